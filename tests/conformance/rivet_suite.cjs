// Zoom's own Node SDK (@zoom/rivet 0.4.0, Team Chat) driven against the sandbox, as a user
// of the SDK would drive Zoom. Run by tests/test_conformance_rivet.py, which starts the
// sandbox, installs Rivet (npm ci into .venv/rivet) and checks every request and answer
// against Zoom's OpenAPI document. Rivet's hosts (zoom.us, api.zoom.us, file.zoom.us) are
// pointed at the sandbox the way a hosts file would: an axios interceptor rewrites the
// origin, nothing else. Prints one JSON line per scenario: {name, ok, detail}.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
// npm hoists Rivet's axios into the same node_modules (NODE_PATH): the same instance
const axios = require("axios");
const { TeamChatS2SAuthClient, TeamChatClient } = require("@zoom/rivet/teamchat");

const SB = process.env.SB_URL;
const env = JSON.parse(process.env.SB_FACTS);
const HOSTS = [
  ["https://api.zoom.us", SB],
  ["https://fileapi.zoom.us", SB + "/file"],
  ["https://file.zoom.us", SB + "/file"],
  ["https://zoom.us", SB],
];

function toSandbox(url) {
  if (!url) return url;
  for (const [from, to] of HOSTS) if (url.startsWith(from)) return to + url.slice(from.length);
  return url;
}

axios.interceptors.request.use((config) => {
  config.baseURL = toSandbox(config.baseURL);
  config.url = toSandbox(config.url);
  return config;
});

const results = [];
async function scenario(name, fn) {
  try {
    const detail = await fn();
    results.push({ name, ok: true, detail: detail ?? "" });
  } catch (err) {
    results.push({ name, ok: false, detail: String(err && err.stack ? err.stack : err) });
  }
}

function expect(cond, what) {
  if (!cond) throw new Error("expected: " + what);
}

async function expectError(promise, pattern) {
  try {
    await promise;
  } catch (err) {
    expect(pattern.test(String(err.message)), `error matching ${pattern}, got ${err.message}`);
    return err.message;
  }
  throw new Error(`expected an error matching ${pattern}`);
}

function stamp(offsetSeconds) {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

class Store {
  constructor(token) { this.token = token; }
  getLatestToken() { return this.token; }
  storeToken(token) { this.token = token; }
}

async function main() {
  const ch = env.channel;
  const s2s = new TeamChatS2SAuthClient({
    clientId: env.client_id, clientSecret: env.client_secret, accountId: env.account_id,
    disableReceiver: true,
  });
  const m = s2s.endpoints.chatMessages;
  const me = env.me_email;
  let mainId;

  await scenario("s2s: token, then send to a channel", async () => {
    const r = await m.sendChatMessage({ path: { userId: me },
      body: { message: "hello from rivet", to_channel: ch } });
    expect(r.statusCode === 201 && typeof r.data.id === "string", "201 with an id");
    mainId = r.data.id;
    return mainId;
  });

  await scenario("s2s: list messages names the sender's send_member_id", async () => {
    const r = await m.listUsersChatMessages({ path: { userId: me },
      query: { to_channel: ch, from: stamp(-600), to: stamp(60), page_size: 10 } });
    const found = r.data.messages.find((x) => x.id === mainId);
    expect(found && found.message === "hello from rivet", "the message in the list");
    expect(found.send_member_id === env.me_member_id, "send_member_id");
    expect(!("total_records" in r.data), "no total_records (the spec has none)");
  });

  await scenario("s2s: list messages honours from/to", async () => {
    const r = await m.listUsersChatMessages({ path: { userId: me },
      query: { to_channel: ch, from: stamp(-7200), to: stamp(-3600) } });
    expect(r.data.messages.length === 0, "nothing in an hour long past");
  });

  await scenario("s2s: get, edit, get", async () => {
    const got = await m.getMessage({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch } });
    expect(got.data.message === "hello from rivet", "get returns the text");
    const put = await m.updateMessage({ path: { userId: me, messageId: mainId },
      body: { message: "edited by rivet", to_channel: ch } });
    expect(put.statusCode === 204, "204");
    const again = await m.getMessage({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch } });
    expect(again.data.message === "edited by rivet", "the edit shows");
  });

  await scenario("s2s: edit an unknown message is 400/300", () => expectError(
    m.updateMessage({ path: { userId: me, messageId: "no-such-message" },
      body: { message: "x", to_channel: ch } }), /\[400\/300\]/));

  await scenario("s2s: react, and the reaction is listed", async () => {
    const r = await m.reactToChatMessage({ path: { userId: me, messageId: mainId },
      body: { action: "add", emoji: "U+1F44D", to_channel: ch } });
    expect(r.statusCode === 204, "204");
    const got = await m.getMessage({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch } });
    expect(got.data.reactions && got.data.reactions[0].emoji === "U+1F44D"
      && got.data.reactions[0].total_count === 1, "one 👍");
  });

  let replyId;
  await scenario("s2s: reply in the thread, read the thread", async () => {
    const r = await m.sendChatMessage({ path: { userId: me },
      body: { message: "a reply", to_channel: ch, reply_main_message_id: mainId } });
    replyId = r.data.id;
    const t = await m.retrieveThread({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch, from: stamp(-600), limit: 10 } });
    expect(t.data.messages.some((x) => x.msg_id === replyId && x.is_reply), "the reply");
  });

  await scenario("s2s: thread without from is 400/4233", () => expectError(
    m.retrieveThread({ path: { userId: me, messageId: mainId }, query: { to_channel: ch } }),
    /\[400\/4233\]/));
  await scenario("s2s: thread of an unknown message is 404/4131", () => expectError(
    m.retrieveThread({ path: { userId: me, messageId: "no-such-message" },
      query: { to_channel: ch, from: stamp(-600) } }), /\[404\/4131\]/));
  await scenario("s2s: thread limit=101 is 400/4231", () => expectError(
    m.retrieveThread({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch, from: stamp(-600), limit: 101 } }), /\[400\/4231\]/));
  await scenario("s2s: thread sort=sideways is 400/4232", () => expectError(
    m.retrieveThread({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch, from: stamp(-600), sort: "sideways" } }), /\[400\/4232\]/));
  await scenario("s2s: thread from the future has no replies", async () => {
    const t = await m.retrieveThread({ path: { userId: me, messageId: mainId },
      query: { to_channel: ch, from: stamp(3600) } });
    expect(!t.data.messages.some((x) => x.is_reply), "no replies after a future from");
  });

  await scenario("s2s: schedule +2 h is a draft; listing and deleting it need a scope "
    + "Server-to-Server apps cannot have (400/4711)", async () => {
    const r = await m.sendChatMessage({ path: { userId: me },
      body: { message: "later", to_channel: ch, scheduled_time: stamp(7200) } });
    const draft = r.data.id;
    expect(typeof draft === "string" && draft.length > 0, "a draft id");
    await expectError(m.listScheduledMessages({ query: { to_channel: ch } }),
      /\[400\/4711\]/);
    await expectError(m.deleteScheduledMessage({ path: { draftId: draft },
      query: { to_channel: ch } }), /\[400\/4711\]/);
  });
  await scenario("s2s: schedule +3 min is 400/300", () => expectError(
    m.sendChatMessage({ path: { userId: me },
      body: { message: "too soon", to_channel: ch, scheduled_time: stamp(180) } }),
    /\[400\/300\]/));

  await scenario("s2s: a malformed interactive card is 400/5405", () => expectError(
    m.sendChatMessage({ path: { userId: me },
      body: { message: "card", to_channel: ch, interactive_cards: [{ card_json: "{nope" }] } }),
    /\[400\/5405\]/));
  await scenario("s2s: an unknown file id is 400/5404", () => expectError(
    m.sendChatMessage({ path: { userId: me },
      body: { message: "file", to_channel: ch, file_ids: ["no-such-file-id"] } }),
    /\[400\/5404\]/));

  await scenario("s2s: rich_text is kept and listed", async () => {
    const r = await m.sendChatMessage({ path: { userId: me }, body: { message: "Bold move",
      to_channel: ch, rich_text: [{ start_position: 0, end_position: 4,
        format_type: "Bold" }] } });
    const got = await m.getMessage({ path: { userId: me, messageId: r.data.id },
      query: { to_channel: ch } });
    expect(got.data.rich_text && got.data.rich_text[0].format_type === "Bold", "Bold kept");
  });

  await scenario("s2s: upload a chat file, then send it with file_ids", async () => {
    // Rivet's multipart bodies are the form-data package's: a stream with a file name
    const file = path.join(os.tmpdir(), `rivet-${process.pid}-figure.png`);
    fs.writeFileSync(file, Buffer.from(env.png_b64, "base64"));
    const up = await s2s.endpoints.chatFiles.uploadChatFile({ path: { userId: env.me_id },
      body: { file: fs.createReadStream(file) } });
    expect(up.statusCode === 201 && typeof up.data.id === "string", "a file id");
    const r = await m.sendChatMessage({ path: { userId: me },
      body: { message: "with a figure", to_channel: ch, file_ids: [up.data.id] } });
    const got = await m.getMessage({ path: { userId: me, messageId: r.data.id },
      query: { to_channel: ch } });
    expect(got.data.files && got.data.files[0].file_id === up.data.id, "the file attached");
  });

  await scenario("s2s: send a chat file", async () => {
    const file = path.join(os.tmpdir(), `rivet-${process.pid}-table.csv`);
    fs.writeFileSync(file, "a,b\n1,2\n");
    const r = await s2s.endpoints.chatFiles.sendChatFile({ path: { userId: env.me_id },
      body: { files: fs.createReadStream(file), to_channel: ch } });
    expect(r.statusCode === 201 && typeof r.data.id === "string", "201 with an id");
  });

  await scenario("s2s: delete a message, then it is gone", async () => {
    const r = await m.sendChatMessage({ path: { userId: me },
      body: { message: "to delete", to_channel: ch } });
    const del = await m.deleteMessage({ path: { userId: me, messageId: r.data.id },
      query: { to_channel: ch } });
    expect(del.statusCode === 204, "204");
    await expectError(m.getMessage({ path: { userId: me, messageId: r.data.id },
      query: { to_channel: ch } }), /\[400\/300\]/);
  });

  await scenario("s2s: channels and members", async () => {
    const c = await s2s.endpoints.chatChannels.listUsersChannels({ path: { userId: me },
      query: { page_size: 50 } });
    expect(c.data.channels.some((x) => x.id === ch), "the channel listed");
    const mem = await s2s.endpoints.chatChannels.listChannelMembers({
      path: { channelId: ch }, query: { page_size: 100 } });
    expect(mem.data.members.some((x) => x.email === me), "me a member");
  });

  await scenario("s2s: search company contacts", async () => {
    const r = await s2s.endpoints.contacts.searchCompanyContacts({
      query: { search_key: "grace", page_size: 10 } });
    expect(r.data.contacts.some((x) => x.email === env.grace_email), "Grace found");
  });

  // ---------------------------------------------------------------- user OAuth
  const store = new Store(undefined);
  const user = new TeamChatClient({
    clientId: env.client_id, clientSecret: env.client_secret, disableReceiver: true,
    installerOptions: { redirectUri: env.redirect_uri, stateStore: "x".repeat(32) },
    tokenStore: store,
  });
  const um = user.endpoints.chatMessages;

  await scenario("user: code exchanged for a token, send as me", async () => {
    await user.auth.initRedirectCode(env.code);
    expect(store.token && store.token.refreshToken, "a token with a refresh token");
    const r = await um.sendChatMessage({ path: { userId: "me" },
      body: { message: "from a user login", to_channel: ch } });
    expect(r.statusCode === 201, "201");
  });

  await scenario("user: an expired token is refreshed (rotation); the old one is dead",
    async () => {
      const old = store.token.refreshToken;
      store.token = { ...store.token, expirationTimeIso: new Date(0).toISOString() };
      const r = await um.listUsersChatMessages({ path: { userId: "me" },
        query: { to_channel: ch, from: stamp(-600), to: stamp(60) } });
      expect(r.statusCode === 200, "200 after a refresh");
      expect(store.token.refreshToken !== old, "a new refresh token");
      await expectError(user.auth.refreshAccessToken(old), /Failed to refresh/);
    });

  await scenario("user: my contacts", async () => {
    const r = await user.endpoints.contacts.listUsersContacts({ query: { page_size: 50 } });
    expect(r.data.contacts.some((x) => x.email === env.grace_email), "Grace a contact");
  });

  await scenario("user: schedule +2 h is a draft, listed, then deleted", async () => {
    const r = await um.sendChatMessage({ path: { userId: "me" },
      body: { message: "later", to_channel: ch, scheduled_time: stamp(7200) } });
    const draft = r.data.id;
    const listed = await um.listScheduledMessages({ query: { to_channel: ch } });
    expect(listed.data.messages.some((x) => x.draft_id === draft), "the draft listed");
    const del = await um.deleteScheduledMessage({ path: { draftId: draft },
      query: { to_channel: ch } });
    expect(del.statusCode === 204, "204");
  });
  await scenario("user: listing scheduled messages without a conversation is 400/300", () =>
    expectError(um.listScheduledMessages({ query: {} }), /\[400\/300\]/));

  await scenario("user: editing a colleague's message is 400/200", async () => {
    const r = await axios.post(SB + "/_sandbox/reply",
      { as: "Grace", message: "Grace's own", to_channel: ch });
    await expectError(um.updateMessage({ path: { userId: "me", messageId: r.data.id },
      body: { message: "not mine to edit", to_channel: ch } }), /\[400\/200\]/);
  });

  const writeOnly = new TeamChatClient({  // (Rivet 0.4 needs installerOptions to construct)
    clientId: env.client_id, clientSecret: env.client_secret, disableReceiver: true,
    installerOptions: { redirectUri: env.redirect_uri, stateStore: "x".repeat(32) },
    tokenStore: new Store({ accessToken: env.write_only_token,
      expirationTimeIso: stamp(3000), refreshToken: "unused", scopes: ["team_chat:write:user_message"] }),
  });
  await scenario("user: a write-only token may not read (400/4711)", () => expectError(
    writeOnly.endpoints.chatMessages.listUsersChatMessages({ path: { userId: "me" },
      query: { to_channel: ch } }), /\[400\/4711\]/));
  await scenario("user: a write-only token may not list channels (400/4711)", () =>
    expectError(writeOnly.endpoints.chatChannels.listUsersChannels({
      path: { userId: "me" } }), /\[400\/4711\]/));

  for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");
}

main().catch((err) => {
  for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");
  process.stdout.write(JSON.stringify({ name: "suite", ok: false, detail: String(err.stack) })
    + "\n");
  process.exitCode = 1;
});
