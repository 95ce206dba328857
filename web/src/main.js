// Chathub's web client: signs in, then runs the chat (chat.js) on the REST API (api.js) and the
// WebSocket API (socket.js). Plain modules, no framework and no build step (README, "Web client").

import { Api } from "./api.js";
import { Chat } from "./chat.js";
import { h, replace } from "./dom.js";
import { Socket } from "./socket.js";

const config = window.CHATHUB_CONFIG || {
  api: `${location.protocol}//${location.hostname}:3000`,
  ws: `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:3001`,
};

const root = document.getElementById("app");
const api = new Api(config.api);
let chat = null;

api.onSignedOut = () => {
  chat?.stop();
  chat = null;
  signIn("Your session ended: sign in again.");
};

function signIn(notice) {
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = h("p", { class: "error", role: "alert" });
  const busy = (on) => form.querySelectorAll("button").forEach((b) => (b.disabled = on));
  const submit = async (creating) => {
    error.textContent = "";
    if (!form.reportValidity()) return;
    busy(true);
    try {
      if (creating) await api.register(username.value.trim(), password.value);
      else await api.login(username.value.trim(), password.value);
      start();
    } catch (e) {
      error.textContent = explain(e, creating);
      busy(false);
    }
  };
  const form = h(
    "form",
    {
      class: "sign-in",
      "aria-labelledby": "sign-in-title",
      onsubmit: (e) => {
        e.preventDefault();
        submit(false);
      },
    },
    h("h1", { id: "sign-in-title" }, "Chathub"),
    notice ? h("p", { class: "notice" }, notice) : null,
    h("label", { for: "username" }, "Username"),
    username,
    h("label", { for: "password" }, "Password"),
    password,
    error,
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Sign in"),
      h("button", { type: "button", class: "secondary", onclick: () => submit(true) }, "Create account"),
    ),
  );
  replace(root, form);
  document.title = "Chathub: sign in";
  username.focus();
  // When the first view is up (scripts/bench --web reads it).
  if (!performance.getEntriesByName("chathub-ready").length) performance.mark("chathub-ready");
}

function explain(e, creating) {
  if (e.status === 401) return "Wrong username or password.";
  if (e.status === 409) return "That username is taken.";
  if (e.status === 429) return "Too many attempts: wait a few minutes.";
  if (e.status === 400) return creating ? `Check the fields: ${e.message}` : e.message;
  return `Could not reach the server (${e.message}).`;
}

function start() {
  const socket = new Socket(config.ws, () => api.token());
  api.onToken = () => {
    // The socket keeps working with the token it opened with; a new one is used at the next
    // (re)connect.
  };
  chat = new Chat(root, api, socket, {
    signOut: async () => {
      chat?.stop();
      chat = null;
      await api.logout().catch(() => {});
      signIn();
    },
  });
  chat.start();
  // For the browser's console (and the browser test, which drops the socket to see the client
  // catch up).
  window.chathub = { chat };
}

window.addEventListener("online", () => chat?.socket.reconnect());

(async () => {
  if (await api.restore()) start();
  else signIn();
})();
