// JSON pointer -> line in the JSON or YAML text of the editor, as formats/locate.py does on the
// server for annotations and SARIF: findings point into the *normalised* task definition (or into
// the template), so the pointer is looked up below wherever the task definition sits in the input.
// Never throws: a line it cannot place is null; a path that does not exist (a missing field) gives
// the line of its nearest existing parent.
"use strict";

(function (global) {
  const ROOTS = [
    "",
    "/taskDefinition",
    "/taskDefinition/taskDefinition",
    "/request/object",
    "/request/object/taskDefinition",
    "/request/object/taskDefinition/taskDefinition",
  ];
  const MAX_DEPTH = 256;

  function splitPointer(pointer) {
    if (!pointer) return [];
    if (pointer[0] !== "/") throw new Error("not a JSON pointer");
    return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  }

  class LineIndex {
    constructor(text) {
      this.starts = [0];
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
    }
    line(offset) {
      let lo = 0;
      let hi = this.starts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.starts[mid] <= offset) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
  }

  const scalar = (line, tag) => ({ kind: "scalar", line, tag: tag || null });

  // Flow style: a JSON document, or a YAML `[...]` / `{...}` value (which may span lines).
  function parseFlow(text, start, index) {
    let pos = start;
    const ws = () => {
      while (pos < text.length) {
        const c = text[pos];
        if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\ufeff") pos++;
        else if (c === "#" && (pos === 0 || /\s/.test(text[pos - 1]))) {
          while (pos < text.length && text[pos] !== "\n") pos++;
        } else break;
      }
    };
    const quoted = () => {
      const q = text[pos++];
      let out = "";
      while (pos < text.length) {
        const c = text[pos];
        if (q === '"' && c === "\\") {
          const n = text[pos + 1];
          if (n === "u") {
            out += String.fromCharCode(parseInt(text.substr(pos + 2, 4), 16));
            pos += 6;
          } else {
            out += { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" }[n] ?? n;
            pos += 2;
          }
          continue;
        }
        if (c === q) {
          if (q === "'" && text[pos + 1] === "'") {
            out += "'";
            pos += 2;
            continue;
          }
          pos++;
          return out;
        }
        out += c;
        pos++;
      }
      throw new Error("unterminated string");
    };
    const plain = () => {
      const from = pos;
      while (pos < text.length) {
        const c = text[pos];
        if (",[]{}".includes(c)) break;
        if (c === ":" && (pos + 1 >= text.length || /[\s,\]}]/.test(text[pos + 1]))) break;
        if (c === "#" && /\s/.test(text[pos - 1])) break;
        pos++;
      }
      return text.slice(from, pos).trim();
    };
    const prefix = () => {
      // A tag (`!Ref`) and an anchor (`&name`) before a value.
      let tag = null;
      while (text[pos] === "!" || text[pos] === "&") {
        const from = pos;
        while (pos < text.length && !/[\s,[\]{}]/.test(text[pos])) pos++;
        if (text[from] === "!") tag = text.slice(from, pos);
        ws();
      }
      return tag;
    };
    const value = (depth) => {
      if (depth > MAX_DEPTH) throw new Error("too deep");
      ws();
      const tag = prefix();
      const line = index.line(pos);
      const c = text[pos];
      if (c === "{") {
        pos++;
        const node = { kind: "map", line, tag, entries: [] };
        for (;;) {
          ws();
          if (text[pos] === "}") {
            pos++;
            return node;
          }
          const keyLine = index.line(pos);
          const key = text[pos] === '"' || text[pos] === "'" ? quoted() : plain();
          ws();
          let child = scalar(keyLine);
          if (text[pos] === ":") {
            pos++;
            child = value(depth + 1);
          }
          node.entries.push({ key, line: keyLine, node: child });
          ws();
          if (text[pos] === ",") pos++;
          else if (text[pos] !== "}") throw new Error("expected , or }");
        }
      }
      if (c === "[") {
        pos++;
        const node = { kind: "seq", line, tag, items: [] };
        for (;;) {
          ws();
          if (text[pos] === "]") {
            pos++;
            return node;
          }
          const itemLine = index.line(pos);
          node.items.push({ line: itemLine, node: value(depth + 1) });
          ws();
          if (text[pos] === ",") pos++;
          else if (text[pos] !== "]") throw new Error("expected , or ]");
        }
      }
      if (pos >= text.length) throw new Error("unexpected end");
      if (c === '"' || c === "'") quoted();
      else if (!plain()) throw new Error("unexpected character");
      return scalar(line, tag);
    };
    const node = value(0);
    return { node, end: pos };
  }

  // A '#' starts a comment at the start of the content or after whitespace, outside quotes (a
  // quote opens a scalar only where one can begin: first, or after whitespace or [{,:).
  function stripComment(content) {
    let quote = null;
    for (let i = 0; i < content.length; i++) {
      const c = content[i];
      if (quote) {
        if (c === quote) {
          if (quote === "'" && content[i + 1] === "'") i++;
          else quote = null;
        } else if (quote === '"' && c === "\\") i++;
        continue;
      }
      if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(content[i - 1]))) quote = c;
      else if (c === "#" && (i === 0 || /\s/.test(content[i - 1]))) return content.slice(0, i);
    }
    return content;
  }

  // Block-style YAML by indentation: mappings, sequences (`- key: v` too), block scalars,
  // multi-line scalars, flow values, tags (CloudFormation's `!If`) and anchors.
  function parseYaml(text) {
    const index = new LineIndex(text);
    const raw = text.split("\n");
    const lines = [];
    let offset = 0;
    for (let n = 0; n < raw.length; n++) {
      const s = raw[n].replace(/\r$/, "");
      const indent = /^ */.exec(s)[0].length;
      lines.push({ no: n + 1, indent, content: stripComment(s.slice(indent)).replace(/\s+$/, ""), offset: offset + indent });
      offset += raw[n].length + 1;
    }
    let i = 0;
    const cur = () => {
      while (i < lines.length) {
        const c = lines[i].content;
        if (c === "" || /^(---|\.\.\.)(\s|$)/.test(c) || c[0] === "%") i++;
        else break;
      }
      return i < lines.length ? lines[i] : null;
    };
    const isItem = (c) => c === "-" || c.startsWith("- ");
    const keyOf = (c) => {
      let key;
      let after;
      if (c[0] === '"' || c[0] === "'") {
        const q = c[0];
        let j = 1;
        key = "";
        while (j < c.length && c[j] !== q) {
          if (q === '"' && c[j] === "\\") j++;
          key += c[j++];
        }
        if (j >= c.length) return null;
        after = j + 1;
        while (c[after] === " ") after++;
        if (c[after] !== ":" || (after + 1 < c.length && !/\s/.test(c[after + 1]))) return null;
      } else {
        if ("[{!&*|>#%@`-".includes(c[0]) && !/^-[^\s]/.test(c)) return null;
        const m = /:(\s|$)/.exec(c);
        if (!m) return null;
        key = c.slice(0, m.index).trim();
        after = m.index;
      }
      let rest = after + 1;
      while (c[rest] === " " || c[rest] === "\t") rest++;
      return { key, rest };
    };
    const skipDeeper = (indent) => {
      while (i < lines.length && (lines[i].content === "" || lines[i].indent > indent)) i++;
    };
    let depth = 0;
    const inline = (l, start, parentIndent) => {
      // The value written on line l from column `start` (a scalar, a flow value, or a tag before a block).
      let rest = l.content.slice(start);
      let col = start;
      let tag = null;
      while (rest[0] === "!" || rest[0] === "&") {
        const m = /^\S+\s*/.exec(rest);
        if (rest[0] === "!") tag = m[0].trim();
        rest = rest.slice(m[0].length);
        col += m[0].length;
      }
      if (rest === "") {
        i++;
        const nxt = cur();
        let node = null;
        if (nxt && nxt.indent === parentIndent && isItem(nxt.content)) node = seq(parentIndent);
        else node = block(parentIndent + 1);
        node = node || scalar(l.no);
        if (tag) {
          node.tag = tag;
          node.line = l.no; // a tagged node starts at its tag
        }
        return node;
      }
      if (rest[0] === "[" || rest[0] === "{") {
        const parsed = parseFlow(text, l.offset + col, index);
        if (tag) parsed.node.tag = tag;
        i = index.line(parsed.end); // the next line after the one where the value ends
        skipDeeper(parentIndent);
        return parsed.node;
      }
      i++;
      skipDeeper(parentIndent); // a block scalar's lines, or a plain or quoted scalar's continuation
      return scalar(l.no, tag);
    };
    const seq = (col) => {
      const node = { kind: "seq", line: cur().no, tag: null, items: [] };
      for (let l = cur(); l && l.indent === col && isItem(l.content); l = cur()) {
        const rest = l.content.slice(1);
        const pad = /^ */.exec(rest)[0].length;
        if (rest.length === pad) {
          i++;
          const child = block(col + 1);
          node.items.push({ line: child ? child.line : l.no, node: child || scalar(l.no) });
          continue;
        }
        // `- key: v`: the rest of the line is a node indented past the dash.
        lines[i] = { no: l.no, indent: col + 1 + pad, content: rest.slice(pad), offset: l.offset + 1 + pad };
        node.items.push({ line: l.no, node: block(col + 1) || scalar(l.no) });
      }
      return node;
    };
    const map = (col) => {
      const node = { kind: "map", line: cur().no, tag: null, entries: [] };
      for (let l = cur(); l && l.indent === col; l = cur()) {
        const k = keyOf(l.content);
        if (!k) break;
        node.entries.push({ key: k.key, line: l.no, node: inline(l, k.rest, col) });
      }
      return node;
    };
    const block = (minIndent) => {
      const l = cur();
      if (!l || l.indent < minIndent) return null;
      if (++depth > MAX_DEPTH) throw new Error("too deep");
      try {
        if (isItem(l.content)) return seq(l.indent);
        if (keyOf(l.content)) return map(l.indent);
        return inline(l, 0, minIndent - 1);
      } finally {
        depth--;
      }
    };
    return block(0);
  }

  function child(node, token, lastWins) {
    if (token.startsWith("Fn::") && node.tag === "!" + token.slice(4)) return [node, node.line];
    if (node.kind === "map") {
      const entries = lastWins ? [...node.entries].reverse() : node.entries;
      const found = entries.find((e) => e.key === token);
      return found ? [found.node, found.line] : null;
    }
    if (node.kind === "seq" && /^\d+$/.test(token)) {
      const n = Number(token);
      if (n < node.items.length) return [node.items[n].node, node.items[n].line];
    }
    return null;
  }

  class Locator {
    constructor(text) {
      this.root = null;
      const stripped = text.replace(/^[\ufeff \t\r\n]+/, "");
      this.json = stripped[0] === "{" || stripped[0] === "[";
      try {
        if (this.json) {
          const parsed = parseFlow(text, 0, new LineIndex(text));
          this.root = parsed.node;
        } else {
          this.root = parseYaml(text);
        }
      } catch (_) {
        this.root = null;
      }
      this.base = null;
    }
    find(tokens) {
      if (!this.root) return { line: null, complete: false };
      let node = this.root;
      let line = this.root.line;
      for (const token of tokens) {
        const next = child(node, token, this.json);
        if (!next) return { line, complete: false };
        [node, line] = next;
      }
      return { line, complete: true };
    }
    taskDefinitionRoot() {
      if (this.base === null) {
        this.base = [];
        for (const root of ROOTS) {
          if (this.find([...splitPointer(root), "containerDefinitions"]).complete) {
            this.base = splitPointer(root);
            break;
          }
        }
      }
      return this.base;
    }
    line(pointer) {
      try {
        return this.find([...this.taskDefinitionRoot(), ...splitPointer(pointer)]).line;
      } catch (_) {
        return null;
      }
    }
  }

  global.EcsLocate = { Locator, splitPointer, lineOf: (text, pointer) => new Locator(text).line(pointer) };
})(window);
