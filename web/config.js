// Where the web client finds the API. `scripts/dev` serves a config.js of its own with the local
// gateway's addresses; `scripts/web-build --api <url> --ws <url>` writes one for a deployed stage.
// Left null, the client looks on this page's host: REST on port 3000, WebSocket on port 3001.
window.CHATHUB_CONFIG = window.CHATHUB_CONFIG || null;
