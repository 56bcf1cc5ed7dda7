// The Rego editor of the local playground (`ecs-admission playground`; never served by `serve`):
// edit a rule file, evaluate the input with the edit (unsaved), run the policy tests with
// coverage, see compile errors at file:line, save to the file.
"use strict";

(function () {
  const pg = window.EcsPlayground;
  const $ = (id) => document.getElementById(id);
  const source = $("rego-source");
  const state = { file: null, saved: "", edits: {} };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const json = (method, body) => ({
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });

  function remember() {
    if (state.file === null) return;
    if (source.value !== state.saved) state.edits[state.file] = source.value;
    else delete state.edits[state.file];
    const edited = Object.keys(state.edits);
    $("rego-state").textContent = edited.length ? "unsaved: " + edited.join(", ") : "saved";
  }

  async function open(name) {
    remember();
    const { status, body } = await pg.api("/playground/rego/files/" + encodeURI(name));
    if (status !== 200) return;
    state.file = name;
    state.saved = body.source;
    source.value = state.edits[name] !== undefined ? state.edits[name] : body.source;
    remember();
  }

  function selectRegoLine(n) {
    const lines = source.value.split("\n");
    if (!n || n > lines.length) return;
    let start = 0;
    for (let i = 0; i < n - 1; i++) start += lines[i].length + 1;
    source.focus();
    source.setSelectionRange(start, start + lines[n - 1].length);
    source.scrollTop = Math.max(0, (n - 1) * 20 - source.clientHeight / 3);
  }

  // A file:line button that opens the file in the editor at that line.
  function place(file, line) {
    const jump = el("button", null, file + ":" + line);
    jump.type = "button";
    jump.addEventListener("click", async () => {
      if (file !== state.file) {
        $("rego-file").value = file;
        await open(file);
      }
      selectRegoLine(line);
    });
    return jump;
  }

  // Compile errors as OPA gives them: file:line: message, each a link to its line.
  function showErrors(errors) {
    const box = $("rego-errors");
    box.replaceChildren();
    for (const e of errors || []) {
      const row = el("div", "error");
      row.dataset.file = e.file || "";
      row.dataset.line = e.line ? String(e.line) : "";
      if (e.file && e.line) row.append(place(e.file, e.line));
      row.append(e.message);
      box.append(row);
    }
  }

  function showTests(body) {
    const box = $("rego-tests");
    box.replaceChildren();
    if (body.errors) {
      showErrors(body.errors);
      return;
    }
    showErrors([]);
    const s = body.summary;
    const summary = el("div", "summary " + (s.fail ? "failed" : "passed"));
    summary.id = "rego-test-summary";
    summary.textContent =
      "policy test: PASS " + s.pass + "/" + s.total + (s.fail ? ", FAIL " + s.fail : "") + (s.skipped ? ", SKIPPED " + s.skipped : "");
    box.append(summary);
    for (const t of body.tests.filter((t) => t.status === "FAIL")) {
      const row = el("div", "failure");
      const at = /^(.+\.rego):(\d+)$/.exec(t.location);
      if (at) row.append(place(at[1], Number(at[2])));
      row.append(t.name + " FAIL: " + t.detail);
      box.append(row);
    }
    const table = el("table");
    table.id = "rego-coverage";
    const head = el("tr");
    for (const h of ["file", "covered", "lines", "coverage"]) head.append(el("th", null, h));
    table.append(head);
    for (const [name, c] of Object.entries(body.coverage.files)) {
      const row = el("tr", name === state.file ? "edited" : "");
      row.dataset.file = name;
      row.append(el("td", null, name), el("td", null, String(c.covered)), el("td", null, String(c.covered + c.missing)));
      row.append(el("td", null, c.percent.toFixed(1) + "%"));
      table.append(row);
    }
    const total = el("tr");
    total.append(el("td", null, "total"), el("td", null, ""), el("td", null, ""), el("td", null, body.coverage.percent.toFixed(1) + "%"));
    table.append(total);
    box.append(table);
  }

  async function runTests() {
    remember();
    $("rego-test").disabled = true;
    $("rego-tests").replaceChildren(el("div", null, "running…"));
    try {
      const { body } = await pg.api("/playground/rego/test", json("POST", { files: state.edits }));
      showTests(body || { errors: [{ message: "no answer" }] });
    } finally {
      $("rego-test").disabled = false;
    }
  }

  async function save() {
    remember();
    const { status, body } = await pg.api("/playground/rego/files/" + encodeURI(state.file), json("PUT", { source: source.value }));
    if (status === 200) {
      state.saved = source.value;
      delete state.edits[state.file];
      remember();
      $("rego-state").textContent = "saved " + body.saved + (body.reload_error ? " (the server kept the previous policies: " + body.reload_error + ")" : "");
    } else {
      $("rego-state").textContent = "not saved: " + ((body && body.detail) || "HTTP " + status);
    }
  }

  // Evaluate goes through the editor: the input against the policies with the unsaved edits.
  pg.evaluator = async (text) => {
    remember();
    const answer = await pg.api("/playground/rego/evaluate", json("POST", { input: text, files: state.edits }));
    showErrors(answer.body && answer.body.errors);
    return answer;
  };

  async function start() {
    const { status, body } = await pg.api("/playground/rego/files");
    if (status !== 200) return;
    const select = $("rego-file");
    for (const f of body.files) {
      const option = el("option", null, f.name);
      option.value = f.name;
      select.append(option);
    }
    select.addEventListener("change", () => open(select.value));
    source.addEventListener("input", remember);
    $("rego-test").addEventListener("click", runTests);
    $("rego-save").addEventListener("click", save);
    $("rego-revert").addEventListener("click", () => {
      delete state.edits[state.file];
      source.value = state.saved;
      remember();
    });
    $("rego").hidden = false;
    const first = body.files.find((f) => !f.test) || body.files[0];
    if (first) {
      select.value = first.name;
      await open(first.name);
    }
    document.body.dataset.regoReady = "true";
  }

  start();
})();
