// The Agent libOS console: a page over the control plane's API. The operator
// pastes a bearer token once (kept in sessionStorage); every request carries
// it. Text from processes is shown with textContent only, and characters that
// act instead of showing (controls, bidi overrides, zero-width) are shown as
// \u{...} escapes, so nothing a process writes can restyle or reorder the page.
// Live updates come from GET /v1/events, read with fetch (EventSource cannot
// send an Authorization header) and resumed with Last-Event-ID.
"use strict";

const TOKEN_KEY = "libos.token";
const $ = (id) => document.getElementById(id);
const state = { selected: null, lastEventId: "", stream: null, timers: new Map() };

// ------------------------------------------------------------------ utilities

const HIDDEN =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069\ufeff]/gu;

/** Text made visible: acting characters become \u{...} escapes. */
function visible(text) {
  return String(text).replace(HIDDEN, (ch) => `\\u{${ch.codePointAt(0).toString(16)}}`);
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = visible(v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "on") {
      for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    } else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function short(value, max = 400) {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max)}… [${s.length - max} more]` : s;
}

function showError(message) {
  const e = $("error");
  if (message === null) {
    e.hidden = true;
    e.textContent = "";
  } else {
    e.hidden = false;
    e.textContent = visible(message);
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path, init = {}) {
  const t = token();
  if (t === null) throw new Error("Paste a token first");
  const headers = { ...(init.headers ?? {}), authorization: `Bearer ${t}` };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { ...init, headers });
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) {
    const msg = body?.error?.message ?? `HTTP ${res.status}`;
    throw new Error(`${res.status}: ${msg}`);
  }
  return body;
}

/** Runs `fn` once after a quiet `ms`, however often it is asked for. */
function soon(key, fn, ms = 120) {
  clearTimeout(state.timers.get(key));
  state.timers.set(
    key,
    setTimeout(() => {
      state.timers.delete(key);
      fn().catch((e) => showError(e.message));
    }, ms),
  );
}

// ------------------------------------------------------------------- panels

async function loadProcesses() {
  const { processes } = await api("/v1/processes");
  const byParent = new Map();
  for (const p of processes) {
    const key = p.parentPid ?? "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(p);
  }
  const known = new Set(processes.map((p) => p.pid));
  const render = (parent) =>
    (byParent.get(parent) ?? []).map((p) => {
      const li = el(
        "li",
        { class: "proc", dataset: { pid: p.pid, state: p.state } },
        el(
          "div",
          { class: "row" },
          el("span", { class: "pid", text: p.pid }),
          " ",
          el("span", { class: "state", dataset: { state: p.state }, text: p.state }),
          " ",
          el("span", { class: "goal muted", text: short(p.goal, 80) }),
        ),
      );
      if (p.pid === state.selected) li.classList.add("selected");
      li.querySelector(".row").addEventListener("click", () => select(p.pid));
      const kids = render(p.pid);
      if (kids.length > 0) li.append(el("ul", {}, ...kids));
      return li;
    });
  // Orphans (a parent not listed) are shown at the top level.
  const roots = render("");
  for (const [parent] of byParent) {
    if (parent !== "" && !known.has(parent)) roots.push(...render(parent));
  }
  $("processes").replaceChildren(...roots);
}

async function loadHuman() {
  const { requests } = await api("/v1/human?state=pending");
  $("human-empty").hidden = requests.length > 0;
  $("human").replaceChildren(...requests.map(renderRequest));
}

function renderRequest(r) {
  const li = el(
    "li",
    { class: "request", dataset: { id: r.id, kind: r.kind, pid: r.pid } },
    el("div", { text: `${r.id} · ${r.kind} from ${r.pid}` }),
    el("pre", { class: "preview", text: short(r.preview, 1e6) }),
    el("div", {
      class: "digest",
      text: `preview sha256 ${String(r.previewSha256 ?? "").slice(0, 12)}`,
    }),
  );
  const decide = async (decision, extra = {}) => {
    li.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await api(`/v1/human/${encodeURIComponent(r.id)}`, {
        method: "POST",
        body: JSON.stringify({ decision, previewSha256: r.previewSha256, ...extra }),
      });
      showError(null);
    } catch (e) {
      showError(e.message);
    }
    await loadHuman();
  };
  if (r.kind === "outcome") {
    // Did a call cut short by a crash take effect? Happened (with its result,
    // as JSON, optional), retry once more, or fail it (EUNKNOWN).
    const value = el("input", { class: "outcome-value", placeholder: "result (JSON)", size: "30" });
    const happened = () => {
      const text = value.value.trim();
      if (text === "") return decide("happened");
      try {
        return decide("happened", { value: JSON.parse(text) });
      } catch {
        showError(`the result must be JSON, got ${short(text, 80)}`);
      }
    };
    li.append(
      value,
      el("button", {
        type: "button",
        class: "happened",
        text: "Happened",
        on: { click: happened },
      }),
      " ",
      el("button", {
        type: "button",
        class: "retry",
        text: "Retry",
        on: { click: () => decide("retry") },
      }),
      " ",
      el("button", {
        type: "button",
        class: "fail",
        text: "Fail",
        on: { click: () => decide("fail") },
      }),
    );
    return li;
  }
  const always = el("input", { type: "checkbox", class: "always" });
  if (r.kind === "question") {
    const text = el("input", { class: "answer-text", placeholder: "answer", size: "30" });
    li.append(
      text,
      el("button", {
        type: "button",
        class: "answer",
        text: "Answer",
        on: { click: () => decide("answer", { answer: text.value }) },
      }),
    );
  } else {
    li.append(
      el("button", {
        type: "button",
        class: "approve",
        text: "Approve",
        on: { click: () => decide("approve", { scope: always.checked ? "always" : "once" }) },
      }),
      el("label", {}, always, " always"),
    );
  }
  li.append(
    " ",
    el("button", {
      type: "button",
      class: "deny",
      text: "Deny",
      on: { click: () => decide("deny") },
    }),
  );
  return li;
}

async function select(pid) {
  state.selected = pid;
  document.querySelectorAll(".proc").forEach((n) =>
    n.classList.toggle("selected", n.dataset.pid === pid)
  );
  await loadDetail();
}

async function loadDetail() {
  const pid = state.selected;
  if (pid === null) return;
  const q = encodeURIComponent(pid);
  const [p, objects, journal] = await Promise.all([
    api(`/v1/processes/${q}`),
    api(`/v1/processes/${q}/objects`),
    api(`/v1/processes/${q}/journal?limit=1000`),
  ]);
  $("detail").hidden = false;
  $("detail-title").textContent = visible(`${p.pid} — ${p.state}`);
  $("detail-summary").textContent = visible(
    `image ${p.imageId}@${p.imageVersion}  cwd /${p.cwd}\ngoal: ${short(p.goal, 300)}\n` +
      (p.reason === null ? "" : `reason: ${p.reason}\n`) +
      (p.state === "exited" ? `result: ${short(p.result)}\n` : ""),
  );
  $("objects").replaceChildren(
    ...objects.objects.map((o) =>
      el(
        "tr",
        { dataset: { oid: o.oid } },
        el("td", { text: o.name }),
        el("td", { text: o.type }),
        el("td", { text: String(o.version) }),
        el("td", { class: "data", text: short(o.payload) }),
      )
    ),
  );
  $("journal").replaceChildren(
    ...journal.entries.map((e) =>
      el(
        "tr",
        { dataset: { kind: e.kind } },
        el("td", { text: String(e.seq) }),
        el("td", { text: e.kind }),
        el("td", { text: e.callId ?? "" }),
        el("td", { class: "data", text: short(e.data) }),
      )
    ),
  );
}

async function loadAudit() {
  const { records } = await api("/v1/audit?limit=1000");
  const last = records.slice(-50).reverse();
  $("audit").replaceChildren(
    ...last.map((r) =>
      el(
        "tr",
        { dataset: { seq: String(r.seq) } },
        el("td", { text: String(r.seq) }),
        el("td", { text: r.actor }),
        el("td", { text: r.action }),
        el("td", { text: r.pid ?? "" }),
        el("td", { text: r.decision ?? "" }),
      )
    ),
  );
}

async function verifyAudit() {
  const out = $("verify-result");
  out.textContent = "verifying…";
  try {
    const v = await api("/v1/audit/verify");
    out.dataset.ok = String(v.ok);
    out.textContent = v.ok
      ? `chain ok: ${v.count} records`
      : visible(`chain BROKEN at record ${v.seq}: ${v.reason}`);
  } catch (e) {
    out.textContent = visible(e.message);
  }
}

async function loadAll() {
  await Promise.all([loadProcesses(), loadHuman(), loadAudit(), loadDetail()]);
}

// ------------------------------------------------------------------- events

function setStatus(live) {
  const s = $("status");
  s.dataset.state = live ? "live" : "off";
  s.textContent = live ? "live" : "offline";
}

function onEvent(type, data) {
  if (type === "reset") {
    soon("all", loadAll);
  } else if (type === "process") {
    soon("processes", loadProcesses);
    if (data.pid === state.selected) soon("detail", loadDetail);
  } else if (type === "human") {
    soon("human", loadHuman);
  } else if (type === "audit") {
    soon("audit", loadAudit, 300);
    if (data.pid !== null && data.pid === state.selected) soon("detail", loadDetail);
  }
}

/** Reads the event stream; reconnects with Last-Event-ID until the token changes. */
async function stream() {
  const t = token();
  if (t === null) return;
  const abort = new AbortController();
  state.stream?.abort();
  state.stream = abort;
  while (!abort.signal.aborted && token() === t) {
    try {
      const headers = { authorization: `Bearer ${t}` };
      if (state.lastEventId !== "") headers["last-event-id"] = state.lastEventId;
      const res = await fetch("/v1/events", { headers, signal: abort.signal });
      if (res.status === 401 || res.status === 403) {
        showError(`The event stream refused the token (${res.status})`);
        setStatus(false);
        return;
      }
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
      setStatus(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let type = "message";
          let data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("id: ")) state.lastEventId = line.slice(4);
            else if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data !== "") onEvent(type, JSON.parse(data));
        }
      }
    } catch (e) {
      if (abort.signal.aborted) return;
      showError(`Event stream: ${e.message}; reconnecting`);
    }
    setStatus(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ------------------------------------------------------------------- wiring

async function signIn() {
  try {
    const me = await api("/v1/whoami");
    $("whoami").textContent = visible(`${me.name} (${me.role})`);
    showError(null);
    await loadAll();
    void stream();
  } catch (e) {
    $("whoami").textContent = "not signed in";
    showError(e.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("token-input").value.trim();
    if (value === "") return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("token-input").value = "";
    void signIn();
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.stream?.abort();
    setStatus(false);
    $("whoami").textContent = "not signed in";
  });
  $("verify").addEventListener("click", () => void verifyAudit());
  if (token() !== null) void signIn();
});
