// The decision playground (docs/playground.md): the editor, POST /v1/admit?dry_run=true, the
// findings linked to their lines, the rule catalogue, the share link. Everything runs from this
// origin; the input travels to the server only when Evaluate is pressed, and the share link keeps
// it in the URL fragment, which a browser never sends.
"use strict";

(function () {
  const TOKEN_KEY = "ecs-admission-playground-token";
  const SHARE_PREFIX = "#input=";
  const $ = (id) => document.getElementById(id);
  const editor = $("task-definition");
  const state = { config: null, flagged: new Map(), findings: [] };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // --- the server ------------------------------------------------------------------------------

  function token() {
    return state.config && state.config.auth_required ? sessionStorage.getItem(TOKEN_KEY) || "" : "";
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET", headers: {} }, options || {});
    opts.headers = Object.assign({}, opts.headers);
    const t = token();
    if (t) opts.headers.Authorization = "Bearer " + t;
    opts.credentials = "omit";
    opts.cache = "no-store";
    const response = await fetch(path, opts);
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    return { status: response.status, body };
  }

  function contentType(text) {
    try {
      JSON.parse(text);
      return "application/json";
    } catch (_) {
      return "application/yaml";
    }
  }

  // --- the editor: line numbers and highlighted lines ------------------------------------------

  // The margin's numbers and the backdrop's line bands are redrawn only when the number of lines
  // or the highlighted lines change, not on every keystroke (a large input has thousands).
  let drawn = { count: -1, flags: "" };

  function renderEditor() {
    let count = 1;
    for (let i = editor.value.indexOf("\n"); i !== -1; i = editor.value.indexOf("\n", i + 1)) count++;
    const flags = JSON.stringify([...state.flagged]);
    if (count !== drawn.count || flags !== drawn.flags) {
      drawn = { count, flags };
      const numbers = document.createDocumentFragment();
      const bands = document.createDocumentFragment();
      for (let n = 1; n <= count; n++) {
        const flag = state.flagged.get(n);
        const cls = flag ? " flagged " + flag : "";
        numbers.append(el("div", { class: "line-number" + cls, "data-line": String(n), text: String(n) }));
        bands.append(el("div", { class: "line" + cls, "data-line": String(n) }));
      }
      $("gutter").replaceChildren(numbers);
      $("backdrop").replaceChildren(bands);
    }
    syncScroll();
  }

  function syncScroll() {
    $("backdrop").scrollTop = editor.scrollTop;
    $("backdrop").scrollLeft = editor.scrollLeft;
    $("gutter").scrollTop = editor.scrollTop;
  }

  function selectLine(n) {
    const lines = editor.value.split("\n");
    if (!n || n > lines.length) return;
    let start = 0;
    for (let i = 0; i < n - 1; i++) start += lines[i].length + 1;
    editor.focus();
    editor.setSelectionRange(start, start + lines[n - 1].length);
    const height = parseFloat(getComputedStyle(editor).lineHeight) || 18;
    editor.scrollTop = Math.max(0, (n - 1) * height - editor.clientHeight / 3);
    syncScroll();
  }

  function setInput(text) {
    editor.value = text;
    state.flagged.clear();
    renderEditor();
  }

  // --- the decision ----------------------------------------------------------------------------

  const RANK = { critical: 0, high: 1, medium: 2, low: 3 };

  // One list of findings whatever the shape: a task definition's decision, or a template's
  // decision per task definition (results[], paths already pointing into the template).
  function collect(body) {
    const decisions = Array.isArray(body.results) ? body.results : [body];
    const findings = [];
    for (const d of decisions) {
      for (const [kind, list] of [["violation", d.violations], ["warning", d.warnings]]) {
        for (const f of list || []) findings.push(Object.assign({ kind, logical_id: d.logical_id || null }, f));
      }
    }
    return findings;
  }

  function fixText(fix) {
    if (fix === undefined || fix === null || fix === "") return null;
    return typeof fix === "string" ? fix : JSON.stringify(fix, null, 2);
  }

  function renderFinding(f) {
    const item = el("li", {
      class: "finding " + f.kind + " severity-" + f.severity,
      "data-rule": f.rule,
      "data-line": f.line ? String(f.line) : null,
    });
    const head = el(
      "div",
      { class: "finding-head" },
      el("span", { class: "rule-id", text: f.rule }),
      el("span", { class: "severity", text: f.severity }),
      f.kind === "warning" ? el("span", { class: "kind", text: "warning" }) : null,
      f.logical_id ? el("span", { class: "logical-id", text: f.logical_id }) : null,
    );
    if (f.line) {
      const jump = el("button", { type: "button", class: "line-link", text: "line " + f.line, title: f.path });
      jump.addEventListener("click", () => selectLine(f.line));
      head.append(jump);
    }
    item.append(head, el("div", { class: "message", text: f.message }));
    item.append(el("div", { class: "path", text: f.path || "(the whole task definition)" }));
    const fix = fixText(f.fix);
    if (fix) item.append(el("div", { class: "fix" }, el("strong", { text: "Fix: " }), el("pre", { text: fix })));
    if (f.remediation) {
      item.append(el("div", { class: "remediation" }, el("strong", { text: "Remediation: " }), f.remediation));
    }
    if (f.docs) {
      item.append(el("a", { class: "docs", href: f.docs, target: "_blank", rel: "noopener noreferrer", text: "docs" }));
    }
    return item;
  }

  function showDecision(body) {
    const findings = collect(body);
    const locator = new window.EcsLocate.Locator(editor.value);
    state.flagged.clear();
    for (const f of findings) {
      f.line = locator.line(f.path);
      if (f.line) {
        const worst = state.flagged.get(f.line);
        if (!worst || worst === "warning" || f.kind === "violation") state.flagged.set(f.line, f.kind);
      }
    }
    findings.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "violation" ? -1 : 1) || RANK[a.severity] - RANK[b.severity]);
    state.findings = findings;
    const verdict = $("verdict");
    verdict.textContent = body.allowed ? "ALLOWED" : "DENIED";
    verdict.className = body.allowed ? "allowed" : "denied";
    const notes = [];
    if (body.mode === "dry-run") notes.push("dry run: nothing was blocked");
    if (Array.isArray(body.results)) notes.push(body.results.length + " task definition(s) in the template");
    if (body.policy) notes.push("policy revision " + body.policy.revision);
    $("verdict-note").textContent = notes.join(" · ");
    const list = $("findings");
    list.replaceChildren(...findings.map(renderFinding));
    if (!findings.length) list.append(el("li", { class: "none", text: "No findings." }));
    renderEditor();
  }

  function showError(status, body) {
    state.flagged.clear();
    renderEditor();
    const verdict = $("verdict");
    verdict.className = "error";
    let title = "ERROR";
    if (status === 401 || status === 403) title = "NOT AUTHORISED";
    else if (status === 400 || status === 415 || status === 413) title = "INPUT ERROR";
    else if (status === 503) title = "COULD NOT DECIDE";
    else if (status === 422) title = "POLICY ERROR";
    verdict.textContent = title;
    const detail = body ? [body.field, body.detail || body.error].filter(Boolean).join(": ") : "HTTP " + status;
    $("verdict-note").textContent = detail;
    $("findings").replaceChildren();
  }

  async function evaluate() {
    const text = editor.value;
    if (!text.trim()) {
      showError(400, { detail: "paste a task definition (JSON or YAML) first" });
      return;
    }
    $("evaluate").disabled = true;
    $("verdict").textContent = "…";
    try {
      const hook = window.EcsPlayground.evaluator;
      const { status, body } = hook
        ? await hook(text)
        : await api("/v1/admit?dry_run=true", {
            method: "POST",
            headers: { "Content-Type": contentType(text) },
            body: text,
          });
      const review = body && body.kind === "AdmissionReview" && body.response;
      if (review) {
        // An AdmissionReview is answered in kind: the decision sits inside its response.
        if (review.decision) showDecision(review.decision);
        else showError(review.status.code, { detail: review.status.message });
      } else if ((status === 200 || status === 403) && body && typeof body.allowed === "boolean" && !body.error) {
        showDecision(body);
      } else {
        showError(status, body);
      }
    } catch (err) {
      showError(0, { detail: "the gate did not answer: " + err.message });
    } finally {
      $("evaluate").disabled = false;
    }
  }

  // --- share link: the input in the fragment ---------------------------------------------------

  function toBase64Url(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64Url(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  async function pipe(bytes, stream) {
    const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
    return new Uint8Array(await out.arrayBuffer());
  }

  async function encodeShare(text) {
    const bytes = new TextEncoder().encode(text);
    if (typeof CompressionStream === "function") {
      return "z." + toBase64Url(await pipe(bytes, new CompressionStream("deflate-raw")));
    }
    return "t." + toBase64Url(bytes);
  }

  async function decodeShare(value) {
    const [kind, data] = [value.slice(0, 2), value.slice(2)];
    let bytes = fromBase64Url(data);
    if (kind === "z.") bytes = await pipe(bytes, new DecompressionStream("deflate-raw"));
    else if (kind !== "t.") throw new Error("unknown share link format");
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }

  async function share() {
    const fragment = SHARE_PREFIX + (await encodeShare(editor.value));
    history.replaceState(null, "", fragment);
    const link = $("share-link");
    link.value = location.href;
    link.hidden = false;
    link.select();
  }

  async function loadShared() {
    if (!location.hash.startsWith(SHARE_PREFIX)) return false;
    try {
      setInput(await decodeShare(location.hash.slice(SHARE_PREFIX.length)));
      return true;
    } catch (err) {
      showError(400, { detail: "the share link cannot be read: " + err.message });
      return false;
    }
  }

  // --- examples and the rule catalogue ---------------------------------------------------------

  function renderExamples() {
    const box = $("examples");
    for (const ex of state.config.examples) {
      const button = el("button", { type: "button", class: "example", "data-example": ex.name, text: ex.title });
      button.addEventListener("click", async () => {
        const response = await fetch("/playground/examples/" + encodeURIComponent(ex.name), { cache: "no-store" });
        if (response.ok) setInput(await response.text());
      });
      box.append(button);
    }
  }

  async function loadRules() {
    const list = $("rules");
    const { status, body } = await api("/v1/policies");
    if (status !== 200 || !body || !Array.isArray(body.rules)) {
      const why = status === 401 || status === 403 ? "enter a token to load the rules" : "rules unavailable";
      list.replaceChildren(el("li", { class: "none", text: why + (body && body.detail ? ": " + body.detail : "") }));
      return;
    }
    list.replaceChildren(
      ...body.rules.map((r) => {
        const item = el(
          "li",
          {
            class: "rule severity-" + r.severity,
            "data-rule": r.id,
            "data-search": [r.id, r.title, r.package, r.package_title, r.description, r.severity, r.enforcement]
              .join(" ")
              .toLowerCase(),
          },
          el("span", { class: "rule-id", text: r.id }),
          el("span", { class: "severity", text: r.severity }),
          el("span", { class: "enforcement", text: r.enforcement }),
          el("span", { class: "title", text: r.title }),
        );
        if (r.docs) item.append(el("a", { href: r.docs, target: "_blank", rel: "noopener noreferrer", text: "docs" }));
        if (r.remediation) item.append(el("div", { class: "remediation", text: r.remediation }));
        return item;
      }),
    );
    filterRules();
  }

  function filterRules() {
    const words = $("rule-search").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const item of $("rules").querySelectorAll("li.rule")) {
      const match = words.every((w) => item.dataset.search.includes(w));
      item.hidden = !match;
      if (match) shown++;
    }
    $("rule-count").textContent = shown + " rule(s)";
  }

  // --- start -----------------------------------------------------------------------------------

  // What the local Rego editor (rego-editor.js) builds on; `evaluator`, when it sets one, answers
  // Evaluate instead of /v1/admit.
  window.EcsPlayground = { api, evaluator: null, evaluate, selectLine };

  async function start() {
    const response = await fetch("/playground/config.json", { cache: "no-store" });
    state.config = await response.json();
    if (state.config.auth_required) {
      $("auth").hidden = false;
      $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
      $("token").addEventListener("change", () => {
        const value = $("token").value.trim();
        if (value) sessionStorage.setItem(TOKEN_KEY, value);
        else sessionStorage.removeItem(TOKEN_KEY);
        loadRules();
      });
    }
    editor.addEventListener("input", () => {
      state.flagged.clear();
      renderEditor();
    });
    editor.addEventListener("scroll", syncScroll);
    $("evaluate").addEventListener("click", evaluate);
    $("share").addEventListener("click", share);
    $("rule-search").addEventListener("input", filterRules);
    renderExamples();
    renderEditor();
    if (state.config.rego_editor) {
      const script = el("script", { src: "/playground/rego/rego-editor.js" });
      document.body.append(script);
    } else {
      $("rego").remove();
    }
    const shared = await loadShared();
    loadRules();
    document.body.dataset.ready = "true";
    if (shared && (!state.config.auth_required || token())) evaluate();
  }

  start();
})();
