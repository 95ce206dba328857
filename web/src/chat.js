// The chat itself: conversations, a conversation's messages, contacts, the profile. State lives in
// plain maps; each change re-renders the part of the page it touches.

import { ApiError } from "./api.js";
import { h, replace, when } from "./dom.js";

const PAGE = 50;
const TYPING_EVERY_MS = 3_000;
const TYPING_SHOWN_MS = 5_000;
const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];
const INLINE_IMAGES = /^image\/(png|jpeg|webp|gif)$/;

export class Chat {
  constructor(root, api, socket, { signOut }) {
    this.root = root;
    this.api = api;
    this.socket = socket;
    this.signOut = signOut;
    this.me = null;
    /** id → conversation (as listed: with unread_count and last_message). */
    this.conversations = new Map();
    /** id → { byId: Map(id → message), pending: Map(client_id → message), hasMore, loaded } */
    this.logs = new Map();
    this.openId = null;
    this.replyTo = null;
    this.editing = null;
    this.contacts = [];
    this.typing = new Map();
    this.lastTyped = 0;
    this.syncCursor = null;
    this.pins = null;
  }

  async start() {
    this.layout();
    this.listen();
    this.socket.onStatus = (status) => {
      this.status.textContent = status === "online" ? "" : "Offline: reconnecting…";
      this.status.hidden = status === "online";
    };
    this.socket.onOpen = (again) => {
      if (again) this.catchUp().catch((e) => console.error("catching up", e));
    };
    try {
      const [me, conversations, contacts, sync] = await Promise.all([
        this.api.get("/users/me"),
        this.api.get("/conversations?limit=100"),
        this.api.get("/contacts?limit=100"),
        this.api.get("/sync").catch(() => null),
      ]);
      this.me = me;
      this.syncCursor = sync?.next_cursor ?? null;
      for (const c of conversations.items) this.conversations.set(c.id, c);
      this.contacts = contacts.items;
    } catch (e) {
      this.showError(e);
      return;
    }
    this.renderHeader();
    this.renderList();
    this.renderContacts();
    this.socket.connect();
    const wanted = sessionStorage.getItem("chathub.open");
    if (wanted && this.conversations.has(wanted)) this.open(wanted);
  }

  stop() {
    this.socket.close();
    clearInterval(this.typingTimer);
  }

  // ---- layout ----

  layout() {
    this.status = h("p", { class: "status", role: "status", hidden: true });
    this.header = h("header", { class: "top" });
    this.list = h("ul", { class: "conversations" });
    this.contactList = h("ul", { class: "contacts" });
    this.panel = h("section", { class: "panel", "aria-label": "Conversation" });
    const contactInput = h("input", { id: "add-contact", autocomplete: "off", placeholder: "username" });
    replace(
      this.root,
      this.header,
      this.status,
      h("div", { class: "body" },
        h("aside", { class: "side" },
          h("nav", { "aria-label": "Conversations" },
            h("h2", {}, "Conversations"),
            h("button", { type: "button", class: "new", onclick: () => this.newConversation() }, "New conversation"),
            this.list,
          ),
          h("section", { "aria-label": "Contacts", class: "contacts-section" },
            h("h2", {}, "Contacts"),
            this.contactList,
            h("form", {
              class: "inline",
              onsubmit: async (e) => {
                e.preventDefault();
                const name = contactInput.value.trim().toLowerCase();
                if (!name) return;
                try {
                  const user = await this.api.post("/contacts", { username: name });
                  this.contacts = [...this.contacts.filter((c) => c.username !== user.username), user];
                  contactInput.value = "";
                  this.renderContacts();
                } catch (err) {
                  this.flash(err.status === 404 ? `No user ${name}.` : err.message);
                }
              },
            },
              h("label", { for: "add-contact" }, "Add contact"),
              contactInput,
              h("button", { type: "submit" }, "Add"),
            ),
          ),
        ),
        this.panel,
      ),
    );
    replace(this.panel, h("p", { class: "empty" }, "Choose a conversation, or start one."));
  }

  renderHeader() {
    const avatarInput = h("input", {
      id: "avatar",
      type: "file",
      accept: "image/png,image/jpeg,image/webp,image/gif",
      class: "visually-hidden",
      onchange: async () => {
        const file = avatarInput.files[0];
        if (!file) return;
        try {
          const id = await this.api.upload(file, "avatar");
          this.me = await this.api.patch("/users/me", { avatar_file_id: id });
          this.renderHeader();
          this.flash("Avatar updated.");
        } catch (e) {
          this.flash(`Could not set the avatar: ${e.message}`);
        }
      },
    });
    replace(
      this.header,
      h("h1", {}, "Chathub"),
      h("div", { class: "me" },
        this.avatar(this.me),
        h("span", { class: "who" }, this.me.username),
        h("label", { for: "avatar", class: "button secondary", tabindex: "0",
          onkeydown: (e) => (e.key === "Enter" || e.key === " ") && avatarInput.click() }, "Avatar"),
        avatarInput,
        h("button", { type: "button", class: "secondary", onclick: () => this.signOut() }, "Sign out"),
      ),
    );
  }

  avatar(user) {
    const initial = (user.fullname || user.username || "?").slice(0, 1).toUpperCase();
    const el = h("span", { class: "avatar", "aria-hidden": "true" }, initial);
    if (user.avatar_file_id) {
      this.api.fileUrl(user.avatar_file_id).then(
        (url) => replace(el, h("img", { src: url, alt: "" })),
        () => {},
      );
    }
    return el;
  }

  flash(text) {
    this.status.textContent = text;
    this.status.hidden = false;
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      this.status.hidden = true;
    }, 4000);
  }

  showError(e) {
    this.flash(e instanceof ApiError ? e.message : `Something went wrong: ${e.message}`);
  }

  // ---- conversation list ----

  title(c) {
    if (c.kind === "direct" && Array.isArray(c.members)) {
      return c.members.find((m) => m !== this.me?.username) || c.name;
    }
    if (c.kind === "direct" && c.name) {
      return c.name.split(", ").find((m) => m !== this.me?.username) || c.name;
    }
    return c.name || "(no name)";
  }

  renderList() {
    const sorted = [...this.conversations.values()].sort((a, b) => (b.last_activity_at || 0) - (a.last_activity_at || 0));
    replace(
      this.list,
      sorted.map((c) => {
        const last = c.last_message;
        const preview = last ? (last.deleted ? "(deleted)" : `${last.sender_username}: ${last.content || "(attachment)"}`) : "";
        const unread = c.unread_count > 0 ? h("span", { class: "unread", "aria-label": `${c.unread_count} unread` }, String(c.unread_count)) : null;
        return h("li", {},
          h("button", {
            type: "button",
            class: "conversation",
            "aria-current": c.id === this.openId ? "true" : false,
            dataset: { id: c.id },
            onclick: () => this.open(c.id),
          },
            h("span", { class: "name" }, this.title(c)),
            unread,
            h("span", { class: "preview" }, preview),
          ),
        );
      }),
    );
  }

  upsertConversation(c) {
    const known = this.conversations.get(c.id) || {};
    this.conversations.set(c.id, { ...known, ...c });
    this.renderList();
    if (c.id === this.openId) this.renderTitle();
  }

  async newConversation() {
    const chosen = new Set();
    const search = h("input", { id: "find-people", type: "search", autocomplete: "off" });
    const results = h("ul", { class: "results", "aria-label": "People found" });
    const chips = h("p", { class: "chosen", "aria-live": "polite" });
    const name = h("input", { id: "group-name", autocomplete: "off" });
    const showChosen = () =>
      replace(chips, chosen.size ? `With: ${[...chosen].join(", ")}` : "Nobody chosen yet.");
    const find = async () => {
      const prefix = search.value.trim().toLowerCase();
      if (!prefix) return replace(results);
      try {
        const page = await this.api.get(`/users?prefix=${encodeURIComponent(prefix)}&limit=20`);
        replace(
          results,
          page.items
            .filter((u) => u.username !== this.me.username)
            .map((u) =>
              h("li", {},
                h("button", {
                  type: "button",
                  onclick: () => {
                    chosen.add(u.username);
                    showChosen();
                  },
                }, `Add ${u.username}`),
              ),
            ),
        );
      } catch (e) {
        this.showError(e);
      }
    };
    let debounce;
    search.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(find, 200);
    });
    showChosen();
    const form = h("form", {
      class: "new-conversation",
      "aria-label": "New conversation",
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { members: [...chosen] };
        if (name.value.trim()) body.name = name.value.trim();
        try {
          const c = await this.api.post("/conversations", body);
          this.upsertConversation({ unread_count: 0, ...c });
          this.open(c.id);
        } catch (err) {
          this.flash(err.status === 403 ? "That person does not accept this." : err.message);
        }
      },
    },
      h("h2", {}, "New conversation"),
      h("label", { for: "find-people" }, "Find people"),
      search,
      results,
      chips,
      h("label", { for: "group-name" }, "Group name (optional; a direct conversation has none)"),
      name,
      h("div", { class: "buttons" },
        h("button", { type: "submit" }, "Start conversation"),
        h("button", { type: "button", class: "secondary", onclick: () => this.closePanel() }, "Cancel"),
      ),
    );
    this.openId = null;
    sessionStorage.removeItem("chathub.open");
    this.renderList();
    replace(this.panel, form);
    search.focus();
  }

  closePanel() {
    this.openId = null;
    sessionStorage.removeItem("chathub.open");
    this.renderList();
    replace(this.panel, h("p", { class: "empty" }, "Choose a conversation, or start one."));
  }

  // ---- contacts ----

  renderContacts() {
    replace(
      this.contactList,
      this.contacts.map((u) =>
        h("li", { class: u.is_online ? "online" : "offline", dataset: { username: u.username } },
          this.avatar(u),
          h("span", { class: "who" }, u.username),
          h("span", { class: "presence", "aria-label": u.is_online ? "online" : "offline" }, u.is_online ? "●" : "○"),
          h("button", { type: "button", class: "link", onclick: () => this.direct(u.username), "aria-label": `Message ${u.username}` }, "Message"),
        ),
      ),
    );
  }

  async direct(username) {
    try {
      const c = await this.api.post("/conversations", { members: [username] });
      this.upsertConversation({ unread_count: 0, ...c });
      this.open(c.id);
    } catch (e) {
      this.showError(e);
    }
  }

  // ---- a conversation ----

  log(id) {
    if (!this.logs.has(id)) this.logs.set(id, { byId: new Map(), pending: new Map(), hasMore: false, loaded: false });
    return this.logs.get(id);
  }

  async open(id) {
    this.openId = id;
    this.replyTo = null;
    this.editing = null;
    this.pins = null;
    sessionStorage.setItem("chathub.open", id);
    this.renderList();
    const c = this.conversations.get(id);
    this.titleEl = h("h2", { id: "conversation-title" });
    this.pinsButton = h("button", { type: "button", class: "secondary", onclick: () => this.togglePins() }, "Pinned messages");
    this.pinsPanel = h("section", { class: "pins", "aria-label": "Pinned messages", hidden: true });
    this.level = h("select", { id: "notifications", onchange: () => this.setLevel() },
      ["default", "all", "mentions", "none"].map((l) => h("option", { value: l }, l)));
    if (c?.notifications?.level) this.level.value = c.notifications.level;
    this.messagesEl = h("ol", { class: "messages", role: "log", "aria-label": "Messages", "aria-labelledby": "conversation-title" });
    this.earlier = h("button", { type: "button", class: "earlier secondary", hidden: true, onclick: () => this.loadEarlier() }, "Load earlier messages");
    this.typingEl = h("p", { class: "typing", role: "status", "aria-live": "polite" });
    this.composer = this.makeComposer();
    replace(
      this.panel,
      h("header", { class: "conversation-head" },
        this.titleEl,
        h("div", { class: "tools" },
          this.pinsButton,
          h("label", { for: "notifications" }, "Notifications"),
          this.level,
        ),
      ),
      this.pinsPanel,
      h("div", { class: "scroller" }, this.earlier, this.messagesEl),
      this.typingEl,
      this.composer.el,
    );
    this.renderTitle();
    const log = this.log(id);
    if (!log.loaded) {
      try {
        const page = await this.api.get(`/conversations/${id}/messages?limit=${PAGE}`);
        if (this.openId !== id) return;
        for (const m of page.messages) log.byId.set(m.id, m);
        log.hasMore = page.has_more;
        log.loaded = true;
      } catch (e) {
        this.showError(e);
      }
    } else {
      // Caught up while away from it.
      await this.fetchAfter(id);
    }
    this.renderMessages(true);
    this.markRead();
    this.composer.input.focus();
  }

  renderTitle() {
    const c = this.conversations.get(this.openId);
    if (!c || !this.titleEl) return;
    replace(this.titleEl, this.title(c), h("span", { class: "count" }, c.kind === "group" ? ` · ${c.member_count} members` : ""));
    document.title = `${this.title(c)} · Chathub`;
  }

  async setLevel() {
    try {
      const settings = await this.api.put(`/conversations/${this.openId}/notifications`, { level: this.level.value });
      this.upsertConversation({ id: this.openId, notifications: settings });
      this.flash(`Notifications: ${settings.level}.`);
    } catch (e) {
      this.showError(e);
    }
  }

  async loadEarlier() {
    const id = this.openId;
    const log = this.log(id);
    const first = Math.min(...log.byId.keys());
    if (!Number.isFinite(first)) return;
    const scroller = this.messagesEl.parentElement;
    const before = scroller.scrollHeight;
    try {
      const page = await this.api.get(`/conversations/${id}/messages?before=${first}&limit=${PAGE}`);
      for (const m of page.messages) log.byId.set(m.id, m);
      log.hasMore = page.has_more;
      this.renderMessages(false);
      scroller.scrollTop = scroller.scrollHeight - before;
    } catch (e) {
      this.showError(e);
    }
  }

  /** What the conversation missed: `after=` its newest message, page by page. */
  async fetchAfter(id) {
    const log = this.log(id);
    if (!log.loaded) return;
    let after = Math.max(0, ...log.byId.keys());
    for (let pages = 0; pages < 20; pages++) {
      const page = await this.api.get(`/conversations/${id}/messages?after=${after}&limit=100`);
      for (const m of page.messages) this.place(m);
      if (!page.has_more || page.messages.length === 0) break;
      after = page.messages[page.messages.length - 1].id;
    }
  }

  renderMessages(toBottom) {
    const log = this.log(this.openId);
    this.earlier.hidden = !log.hasMore;
    const ordered = [...log.byId.values()].sort((a, b) => a.id - b.id);
    const scroller = this.messagesEl.parentElement;
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    replace(this.messagesEl, ordered.map((m) => this.renderMessage(m)), [...log.pending.values()].map((m) => this.renderMessage(m)));
    if (toBottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  /** Puts a message where it belongs (by id), replacing what was shown of it. */
  place(message) {
    const log = this.log(message.conversation_id);
    const known = log.byId.get(message.id);
    // A push does not carry my_reactions; keep what an answer said.
    if (known && message.my_reactions === undefined) message.my_reactions = known.my_reactions;
    if (message.client_id && message.sender_username === this.me.username) log.pending.delete(message.client_id);
    log.byId.set(message.id, message);
    if (message.conversation_id !== this.openId || !this.messagesEl) return;
    const shown = this.messagesEl.querySelector(`li[data-id="${message.id}"]`);
    const el = this.renderMessage(message);
    if (shown) {
      shown.replaceWith(el);
      return;
    }
    const pendingShown = message.client_id && this.messagesEl.querySelector(`li[data-client-id="${CSS.escape(message.client_id)}"]`);
    pendingShown?.remove();
    const later = [...this.messagesEl.querySelectorAll("li[data-id]")].find((li) => Number(li.dataset.id) > message.id);
    const scroller = this.messagesEl.parentElement;
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    if (later) later.before(el);
    else {
      const firstPending = this.messagesEl.querySelector("li.pending");
      if (firstPending) firstPending.before(el);
      else this.messagesEl.append(el);
    }
    if (atBottom || message.sender_username === this.me.username) scroller.scrollTop = scroller.scrollHeight;
  }

  refreshMessage(conversationId, id) {
    const message = this.log(conversationId).byId.get(id);
    if (message) this.place(message);
  }

  renderMessage(m) {
    const mine = m.sender_username === this.me.username;
    const classes = ["message", mine ? "mine" : "", m.pending ? "pending" : "", m.failed ? "failed" : "", m.deleted ? "deleted" : ""];
    const parent = m.reply_id ? this.log(m.conversation_id).byId.get(m.reply_id) : null;
    const quote = m.reply_id
      ? h("blockquote", { class: "quote" },
          parent ? `↪ ${parent.sender_username}: ${parent.deleted ? "(deleted)" : parent.content || "(attachment)"}` : `↪ reply to message ${m.reply_id}`)
      : null;
    const actions = m.pending || m.deleted ? null : h("div", { class: "actions" },
      h("button", { type: "button", class: "link", onclick: () => this.startReply(m) }, "Reply"),
      h("button", { type: "button", class: "link", onclick: (e) => this.palette(e.currentTarget, m), "aria-expanded": "false" }, "React"),
      h("button", { type: "button", class: "link", onclick: () => this.togglePin(m) }, m.pinned ? "Unpin" : "Pin"),
      mine ? h("button", { type: "button", class: "link", onclick: () => this.startEdit(m) }, "Edit") : null,
      mine ? h("button", { type: "button", class: "link", onclick: () => this.remove(m) }, "Delete") : null,
    );
    const content = this.editing === m.id
      ? this.editor(m)
      : h("div", { class: "content" }, m.deleted ? "This message was deleted." : m.content);
    return h("li", {
      class: classes.filter(Boolean).join(" "),
      dataset: m.id ? { id: m.id } : { clientId: m.client_id },
    },
      h("div", { class: "meta" },
        h("strong", { class: "sender" }, m.sender_username),
        " ",
        h("time", { datetime: new Date(m.sent_at).toISOString() }, when(m.sent_at)),
        m.edited_at && !m.deleted ? h("span", { class: "edited" }, " (edited)") : null,
        m.pinned ? h("span", { class: "pinned" }, " · pinned") : null,
        m.pending ? h("span", { class: "sending" }, m.failed ? " · not sent" : " · sending…") : null,
        m.failed ? h("button", { type: "button", class: "link", onclick: () => this.retry(m) }, "Retry") : null,
      ),
      quote,
      content,
      m.deleted ? null : this.attachments(m),
      m.deleted ? null : this.reactions(m),
      actions,
    );
  }

  attachments(m) {
    if (!m.attachments?.length) return null;
    return h("div", { class: "attachments" }, m.attachments.map((a) => {
      if (m.pending || !a.file_id) return h("span", { class: "file" }, `${a.name || "file"} (uploading…)`);
      if (INLINE_IMAGES.test(a.content_type)) {
        const img = h("img", { alt: a.name || "image", class: "inline-image" });
        this.api.fileUrl(a.file_id).then((url) => (img.src = url), () => (img.alt = `${a.name || "image"} (unavailable)`));
        return img;
      }
      return h("button", {
        type: "button",
        class: "link file",
        onclick: async () => window.open(await this.api.fileUrl(a.file_id), "_blank", "noopener"),
      }, `${a.name || "file"} (${Math.ceil(a.size / 1024)} KB)`);
    }));
  }

  reactions(m) {
    if (!m.reactions?.length) return null;
    const mine = new Set(m.my_reactions || []);
    return h("div", { class: "reactions", role: "group", "aria-label": "Reactions" }, m.reactions.map((r) =>
      h("button", {
        type: "button",
        class: "reaction",
        "aria-pressed": mine.has(r.reaction) ? "true" : "false",
        title: r.users.join(", "),
        "aria-label": `${r.reaction} ${r.count}`,
        onclick: () => this.react(m, r.reaction, !mine.has(r.reaction)),
      }, `${r.reaction} ${r.count}`),
    ));
  }

  palette(button, m) {
    const open = button.nextElementSibling?.classList.contains("palette");
    this.messagesEl.querySelectorAll(".palette").forEach((p) => p.remove());
    this.messagesEl.querySelectorAll('[aria-expanded="true"]').forEach((b) => b.setAttribute("aria-expanded", "false"));
    if (open) return;
    button.setAttribute("aria-expanded", "true");
    const palette = h("span", { class: "palette", role: "group", "aria-label": "Pick a reaction" },
      QUICK_REACTIONS.map((r) => h("button", {
        type: "button",
        "aria-label": `React with ${r}`,
        onclick: () => {
          palette.remove();
          button.setAttribute("aria-expanded", "false");
          this.react(m, r, !(m.my_reactions || []).includes(r));
        },
      }, r)));
    button.after(palette);
    palette.querySelector("button").focus();
  }

  async react(m, reaction, adding) {
    const fields = { conversation_id: m.conversation_id, message_id: m.id, reaction };
    try {
      if (this.socket.open) await this.socket.request(adding ? "add_reaction" : "remove_reaction", fields);
      else {
        const path = `/conversations/${m.conversation_id}/messages/${m.id}/reactions/${encodeURIComponent(reaction)}`;
        await (adding ? this.api.put(path) : this.api.delete(path));
      }
      // The answer is bare (the push goes to the others): read the message as it is now, with
      // its count and which reactions are mine.
      await this.reload(m.conversation_id, m.id);
    } catch (e) {
      this.flash(e.code === "too_many_reactions" ? "That message has all the reactions it can take." : e.message);
    }
  }

  /** One message as it is now (`after=` the one before it). */
  async reload(conversationId, id) {
    const page = await this.api.get(`/conversations/${conversationId}/messages?after=${id - 1}&limit=1`);
    for (const m of page.messages) this.place(m);
  }

  /** A reaction push or sync change: the count after it, and who. */
  applyReaction(event, adding) {
    const m = this.log(event.conversation_id).byId.get(event.message_id);
    if (!m) return;
    const reactions = (m.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
    let r = reactions.find((x) => x.reaction === event.reaction);
    if (!r) {
      r = { reaction: event.reaction, count: 0, users: [] };
      reactions.push(r);
    }
    r.count = event.count;
    if (adding && !r.users.includes(event.username) && r.users.length < 10) r.users.push(event.username);
    if (!adding) r.users = r.users.filter((u) => u !== event.username);
    if (event.username === this.me.username) {
      const mine = new Set(m.my_reactions || []);
      if (adding) mine.add(event.reaction);
      else mine.delete(event.reaction);
      m.my_reactions = [...mine];
    }
    m.reactions = reactions.filter((x) => x.count > 0).sort((a, b) => b.count - a.count || (a.reaction < b.reaction ? -1 : 1));
    this.refreshMessage(m.conversation_id, m.id);
  }

  async togglePin(m) {
    // Decided before the call: the push of this very change may arrive before its answer.
    const pin = !m.pinned;
    try {
      const path = `/conversations/${m.conversation_id}/pins/${m.id}`;
      await (pin ? this.api.put(path) : this.api.delete(path));
      this.setPinned(m.conversation_id, m.id, pin);
    } catch (e) {
      this.flash(e.code === "too_many_pins" ? "This conversation has 50 pinned messages already." : e.message);
    }
  }

  setPinned(conversationId, id, pinned) {
    const m = this.log(conversationId).byId.get(id);
    if (m) {
      m.pinned = pinned;
      this.refreshMessage(conversationId, id);
    }
    if (conversationId === this.openId && this.pins) this.loadPins();
  }

  async togglePins() {
    if (!this.pinsPanel.hidden) {
      this.pinsPanel.hidden = true;
      this.pins = null;
      return;
    }
    this.pinsPanel.hidden = false;
    await this.loadPins();
  }

  async loadPins() {
    try {
      const pins = await this.api.get(`/conversations/${this.openId}/pins`);
      this.pins = pins.items;
      replace(this.pinsPanel,
        h("h3", {}, `Pinned messages (${pins.items.length})`),
        pins.items.length
          ? h("ul", {}, pins.items.map((m) => h("li", {}, h("strong", {}, m.sender_username), ": ", m.content || "(attachment)")))
          : h("p", {}, "Nothing is pinned."));
    } catch (e) {
      this.showError(e);
    }
  }

  startReply(m) {
    this.replyTo = m;
    this.editing = null;
    this.composer.showReply();
    this.composer.input.focus();
  }

  startEdit(m) {
    this.editing = m.id;
    this.refreshMessage(m.conversation_id, m.id);
    this.messagesEl.querySelector(`li[data-id="${m.id}"] textarea`)?.focus();
  }

  editor(m) {
    const input = h("textarea", { "aria-label": "Edit message", rows: 2 }, m.content);
    const save = async () => {
      const content = input.value.trim();
      if (!content || content === m.content) return cancel();
      try {
        const fields = { conversation_id: m.conversation_id, message_id: m.id, content };
        const edited = this.socket.open
          ? await this.socket.request("edit_message", fields)
          : await this.api.patch(`/conversations/${m.conversation_id}/messages/${m.id}`, { content });
        this.editing = null;
        this.place(edited);
      } catch (e) {
        this.showError(e);
      }
    };
    const cancel = () => {
      this.editing = null;
      this.refreshMessage(m.conversation_id, m.id);
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        save();
      } else if (e.key === "Escape") cancel();
    });
    return h("div", { class: "editor" }, input,
      h("button", { type: "button", onclick: save }, "Save"),
      h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"));
  }

  async remove(m) {
    try {
      const fields = { conversation_id: m.conversation_id, message_id: m.id };
      if (this.socket.open) await this.socket.request("delete_message", fields);
      else await this.api.delete(`/conversations/${m.conversation_id}/messages/${m.id}`);
      this.markDeleted(m.conversation_id, m.id);
    } catch (e) {
      this.showError(e);
    }
  }

  markDeleted(conversationId, id) {
    const m = this.log(conversationId).byId.get(id);
    if (!m) return;
    Object.assign(m, { deleted: true, content: "", attachments: [], reactions: [], pinned: false, my_reactions: [] });
    this.refreshMessage(conversationId, id);
  }

  // ---- composer ----

  makeComposer() {
    const input = h("textarea", { id: "message", "aria-label": "Message", rows: 2, placeholder: "Write a message" });
    const files = h("input", { id: "attach", type: "file", multiple: true, class: "visually-hidden" });
    const chosen = h("span", { class: "chosen-files", "aria-live": "polite" });
    const reply = h("div", { class: "replying", hidden: true });
    files.addEventListener("change", () => {
      replace(chosen, [...files.files].map((f) => f.name).join(", "));
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        send();
      }
    });
    input.addEventListener("input", () => this.typed());
    const send = () => {
      const content = input.value.trim();
      const attached = [...files.files];
      if (!content && attached.length === 0) return;
      input.value = "";
      files.value = "";
      replace(chosen);
      const replyTo = this.replyTo;
      this.replyTo = null;
      reply.hidden = true;
      this.send(content, attached, replyTo);
    };
    const el = h("form", {
      class: "composer",
      "aria-label": "Write a message",
      onsubmit: (e) => {
        e.preventDefault();
        send();
      },
    },
      reply,
      h("div", { class: "row" },
        input,
        h("label", { for: "attach", class: "button secondary", tabindex: "0",
          onkeydown: (e) => (e.key === "Enter" || e.key === " ") && files.click() }, "Attach"),
        files,
        h("button", { type: "submit" }, "Send"),
      ),
      chosen,
    );
    return {
      el,
      input,
      files,
      showReply: () => {
        const m = this.replyTo;
        replace(reply, `Replying to ${m.sender_username}: ${(m.content || "").slice(0, 80)} `,
          h("button", { type: "button", class: "link", onclick: () => {
            this.replyTo = null;
            reply.hidden = true;
          } }, "Cancel reply"));
        reply.hidden = false;
      },
    };
  }

  typed() {
    const now = Date.now();
    if (now - this.lastTyped < TYPING_EVERY_MS || !this.socket.open || !this.openId) return;
    this.lastTyped = now;
    this.socket.request("typing", { conversation_id: this.openId }).catch(() => {});
  }

  /** Sends with a `client_id`: shown at once as sending, confirmed (or marked not sent, to retry
   * with the same id, which the server stores once) when the answer comes. */
  async send(content, files, replyTo) {
    const conversationId = this.openId;
    const log = this.log(conversationId);
    const pending = {
      pending: true,
      client_id: clientId(),
      conversation_id: conversationId,
      sender_username: this.me.username,
      content,
      reply_id: replyTo?.id ?? null,
      attachments: files.map((f) => ({ name: f.name, size: f.size, content_type: f.type })),
      files,
      sent_at: Date.now(),
    };
    log.pending.set(pending.client_id, pending);
    this.renderMessages(true);
    await this.deliver(pending);
  }

  async deliver(pending) {
    const log = this.log(pending.conversation_id);
    try {
      if (!pending.fileIds) {
        pending.fileIds = [];
        for (const file of pending.files) pending.fileIds.push(await this.api.upload(file, "attachment", pending.conversation_id));
      }
      const fields = { content: pending.content, client_id: pending.client_id };
      if (pending.reply_id) fields.reply_id = pending.reply_id;
      if (pending.fileIds.length) fields.attachments = pending.fileIds;
      const message = this.socket.open
        ? await this.socket.request("send_message", { conversation_id: pending.conversation_id, ...fields })
        : await this.api.post(`/conversations/${pending.conversation_id}/messages`, fields);
      log.pending.delete(pending.client_id);
      this.place(message);
      this.noteActivity(message);
    } catch (e) {
      pending.failed = true;
      if (pending.conversation_id === this.openId) this.renderMessages(false);
      this.flash(e.code === "blocked" ? "You cannot write here." : `Not sent: ${e.message}`);
    }
  }

  retry(pending) {
    pending.failed = false;
    if (pending.conversation_id === this.openId) this.renderMessages(false);
    this.deliver(pending);
  }

  noteActivity(message) {
    const c = this.conversations.get(message.conversation_id);
    if (!c) return;
    c.last_message = message;
    c.last_message_id = Math.max(c.last_message_id || 0, message.id);
    c.last_activity_at = Math.max(c.last_activity_at || 0, message.sent_at);
    this.renderList();
  }

  /** Moves my read marker to the newest message of the open conversation (when the page is seen). */
  markRead() {
    const id = this.openId;
    const c = this.conversations.get(id);
    if (!c || document.hidden) return;
    const newest = Math.max(0, ...this.log(id).byId.keys());
    if (!newest) return;
    const had = c.unread_count;
    c.unread_count = 0;
    if (had) this.renderList();
    if (c.read_up_to >= newest) return;
    c.read_up_to = newest;
    const fields = { conversation_id: id, message_id: newest };
    const done = this.socket.open
      ? this.socket.request("mark_read", fields)
      : this.api.post(`/conversations/${id}/read`, { message_id: newest });
    done.catch(() => {
      c.read_up_to = 0;
    });
  }

  // ---- pushes ----

  listen() {
    const s = this.socket;
    s.on("send_message", (m) => this.received(m));
    s.on("message_edited", (m) => this.place(m));
    s.on("message_deleted", (ref) => this.markDeleted(ref.conversation_id, ref.message_id));
    s.on("conversation_created", (c) => this.upsertConversation({ unread_count: 0, ...c }));
    s.on("conversation_updated", (c) => this.upsertConversation(c));
    s.on("member_joined", (e) => this.membersChanged(e, 1));
    s.on("member_left", (e) => this.membersChanged(e, -1));
    s.on("typing", (e) => this.someoneTyping(e));
    s.on("read_marker", (e) => {
      const c = this.conversations.get(e.conversation_id);
      if (c && e.message_id >= (c.last_message_id || 0)) {
        c.unread_count = 0;
        this.renderList();
      }
    });
    s.on("user_status", (u) => {
      const contact = this.contacts.find((c) => c.username === u.username);
      if (contact) {
        Object.assign(contact, u);
        this.renderContacts();
      }
    });
    s.on("reaction_added", (e) => this.applyReaction(e, true));
    s.on("reaction_removed", (e) => this.applyReaction(e, false));
    s.on("message_pinned", (e) => this.setPinned(e.conversation_id, e.message_id, true));
    s.on("message_unpinned", (e) => this.setPinned(e.conversation_id, e.message_id, false));
    document.addEventListener("visibilitychange", () => this.markRead());
    this.typingTimer = setInterval(() => this.renderTyping(), 1000);
  }

  async received(m) {
    if (!this.conversations.has(m.conversation_id)) {
      try {
        const c = await this.api.get(`/conversations/${m.conversation_id}`);
        this.upsertConversation({ unread_count: 0, ...c });
      } catch {
        return;
      }
    }
    const c = this.conversations.get(m.conversation_id);
    const known = this.log(m.conversation_id).byId.has(m.id);
    if (this.log(m.conversation_id).loaded || m.conversation_id === this.openId) this.place(m);
    const mine = m.sender_username === this.me.username;
    if (!known && !mine && m.id > (c.read_up_to || 0)) c.unread_count = (c.unread_count || 0) + 1;
    this.typing.get(m.conversation_id)?.delete(m.sender_username);
    this.noteActivity(m);
    if (m.conversation_id === this.openId) this.markRead();
  }

  membersChanged(e, delta) {
    const c = this.conversations.get(e.conversation_id);
    if (!c) return;
    if (delta < 0 && e.username === this.me.username) {
      this.conversations.delete(e.conversation_id);
      if (this.openId === e.conversation_id) this.closePanel();
      this.renderList();
      return;
    }
    c.member_count = (c.member_count || 0) + delta;
    if (e.owner) c.owner = e.owner;
    this.upsertConversation(c);
  }

  someoneTyping(e) {
    if (e.username === this.me.username) return;
    if (!this.typing.has(e.conversation_id)) this.typing.set(e.conversation_id, new Map());
    this.typing.get(e.conversation_id).set(e.username, Date.now() + TYPING_SHOWN_MS);
    this.renderTyping();
  }

  renderTyping() {
    if (!this.typingEl || !this.openId) return;
    const now = Date.now();
    const here = this.typing.get(this.openId) || new Map();
    for (const [user, until] of here) if (until < now) here.delete(user);
    const names = [...here.keys()];
    const text = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
    if (this.typingEl.textContent !== text) this.typingEl.textContent = text;
  }

  // ---- coming back ----

  /** After a reconnect: what changed while the socket was away, from the sync feed (then the open
   * conversation's messages with `after=`); without a cursor, or with an expired one, everything
   * is read again. */
  async catchUp() {
    let reload = this.syncCursor === null;
    if (!reload) {
      try {
        for (let pages = 0; pages < 50; pages++) {
          const page = await this.api.get(`/sync?since=${encodeURIComponent(this.syncCursor)}&limit=500`);
          for (const change of page.changes) this.applyChange(change);
          this.syncCursor = page.next_cursor;
          if (!page.has_more) break;
        }
      } catch (e) {
        reload = true;
        if (e.status !== 410) console.warn("sync failed; reading everything again", e);
      }
    }
    // Unread counts and last messages as they are now, in one request.
    const listed = await this.api.get("/conversations?limit=100");
    for (const c of listed.items) this.conversations.set(c.id, { ...this.conversations.get(c.id), ...c });
    if (reload) {
      const known = new Set(listed.items.map((c) => c.id));
      for (const id of [...this.conversations.keys()]) if (!known.has(id)) this.conversations.delete(id);
      const sync = await this.api.get("/sync").catch(() => null);
      this.syncCursor = sync?.next_cursor ?? null;
    }
    this.renderList();
    if (this.openId) {
      await this.fetchAfter(this.openId);
      this.markRead();
    }
  }

  applyChange(change) {
    const d = change.data;
    switch (change.type) {
      case "message_edited":
      case "message_deleted":
        if (this.log(d.conversation_id).byId.has(d.id)) this.place(d);
        break;
      case "reaction_added":
      case "reaction_removed": {
        // The count as it is now; whether it is mine, the reaction says.
        const m = this.log(d.conversation_id).byId.get(d.message_id);
        if (m) this.applyReaction(d, change.type === "reaction_added");
        break;
      }
      case "message_pinned":
      case "message_unpinned":
        this.setPinned(d.conversation_id, d.message_id, change.type === "message_pinned");
        break;
      case "conversation_joined":
      case "conversation_updated":
        if (d?.id) this.conversations.set(d.id, { unread_count: 0, ...this.conversations.get(d.id), ...d });
        break;
      case "conversation_left":
        this.conversations.delete(d.conversation_id);
        if (this.openId === d.conversation_id) this.closePanel();
        break;
      default:
        // conversation_activity, read markers, members and settings: the list read after the
        // changes says how they are now.
        break;
    }
  }
}

/** A client id for a send: random, so a retry of the same send is recognised. */
function clientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
