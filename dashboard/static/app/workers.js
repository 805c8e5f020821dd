// The workers view (#workers): search, enrol one, import a CSV file (its problems shown by
// row), revoke with a reason, and issue or revoke pass links with a printable QR card.
// Viewers only search and read. app.js shows the view and says so with a "yz-workers"
// event; this module builds the view's contents itself. Data is set with textContent.
"use strict";
(function () {
  const { csrf } = window.yzDom;
  const t = (key) => window.yzI18n.t(key);
  const PLATFORMS = ["meituan", "eleme", "sf_express", "jd_logistics", "didi", "dada", "truck_freight", "other"];
  let role = null, built = false;

  // The answer and, when it failed, its JSON body ({detail, errors}) or its status.
  async function send(method, path, body, type) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      options.headers["Content-Type"] = type || "application/json";
      options.body = type ? body : JSON.stringify(body);
    }
    const answer = await fetch(path, options);
    let failure = null;
    if (!answer.ok) {
      try { failure = await answer.json(); } catch (error) { failure = { detail: String(answer.status) }; }
    }
    return { answer, failure };
  }

  function el(tag, text, attributes) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
    return element;
  }

  // A label whose words follow the language switch.
  function words(key, tag) {
    return el(tag || "span", t(key), { "data-i18n": key });
  }

  function field(key, input) {
    const label = el("label");
    label.append(words(key), " ", input);
    return label;
  }

  function button(key, onClick, attributes) {
    const b = words(key, "button");
    b.type = "button";
    for (const [name, value] of Object.entries(attributes || {})) b.setAttribute(name, value);
    if (onClick) b.addEventListener("click", onClick);
    return b;
  }

  const canAct = () => role === "operator" || role === "admin";
  const $ = (id) => document.getElementById(id);

  function say(id, text) { $(id).textContent = text; }

  function failureText(failure) {
    if (!failure) return "";
    return failure.detail || "";
  }

  function build() {
    const root = $("workers-view");
    root.replaceChildren();
    root.append(words("workers.title", "h2"));

    const search = el("form", null, { id: "workers-search", class: "filters" });
    const q = el("input", null, { name: "q", maxlength: "100", type: "search" });
    q.placeholder = t("workers.search.placeholder");
    const status = el("select", null, { name: "status" });
    for (const value of ["", "active", "suspended", "revoked"]) {
      const option = words(value ? "workers.status." + value : "filter.all", "option");
      option.value = value;
      status.append(option);
    }
    const find = words("workers.search", "button");
    find.type = "submit";
    search.append(field("workers.search.label", q), field("workers.status", status), find);
    search.addEventListener("submit", (e) => { e.preventDefault(); load(); });
    root.append(search);

    const table = el("table", null, { id: "workers-table" });
    const head = el("tr");
    for (const key of ["workers.id", "workers.name", "workers.platform", "workers.status", "workers.credentials", ""]) {
      head.append(key ? words(key, "th") : el("th"));
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead, el("tbody", null, { id: "workers-list" }));
    root.append(table, el("p", null, { id: "workers-none", hidden: "" }));
    $("workers-none").dataset.i18n = "workers.none";
    $("workers-none").textContent = t("workers.none");

    const panel = el("div", null, { id: "worker-panel", hidden: "" });
    root.append(panel);

    const actions = el("div", null, { id: "workers-actions" });
    actions.hidden = !canAct();
    const enrol = el("form", null, { id: "worker-enrol", class: "filters" });
    const name = el("input", null, { name: "display_name", required: "", maxlength: "100" });
    const platform = el("select", null, { name: "platform" });
    for (const value of PLATFORMS) {
      const option = words("platform." + value, "option");
      option.value = value;
      platform.append(option);
    }
    const scope = el("input", null, { name: "scope", value: "any", maxlength: "80" });
    const groups = el("input", null, { name: "groups", placeholder: "delivery;night" });
    const cards = el("input", null, { name: "card_numbers", inputmode: "numeric" });
    const faces = el("input", null, { name: "face_ids" });
    const add = words("workers.enrol", "button");
    add.type = "submit";
    enrol.append(words("workers.enrol.title", "h3"), field("workers.name", name), field("workers.platform", platform),
      field("workers.scope", scope), field("workers.groups", groups), field("workers.cards", cards),
      field("workers.faces", faces), add);
    enrol.addEventListener("submit", enrolOne);
    actions.append(enrol, el("p", null, { id: "worker-enrol-message", role: "status" }));

    const upload = el("form", null, { id: "worker-import", class: "filters" });
    const file = el("input", null, { name: "file", type: "file", accept: ".csv,text/csv", required: "" });
    const go = words("workers.import", "button");
    go.type = "submit";
    upload.append(words("workers.import.title", "h3"), field("workers.import.file", file), go);
    upload.addEventListener("submit", importFile);
    actions.append(upload, el("p", null, { id: "worker-import-message", role: "status" }));
    const problems = el("table", null, { id: "worker-import-problems", hidden: "" });
    const problemHead = el("tr");
    for (const key of ["workers.import.row", "workers.import.column", "workers.import.problem"]) {
      problemHead.append(words(key, "th"));
    }
    const problemTop = el("thead");
    problemTop.append(problemHead);
    problems.append(problemTop, el("tbody"));
    actions.append(problems);
    root.append(actions);
    built = true;
  }

  function listToArray(text) {
    return String(text || "").split(";").map((part) => part.trim()).filter(Boolean);
  }

  async function enrolOne(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = {
      display_name: String(form.get("display_name") || "").trim(),
      platform: form.get("platform"),
      scope: String(form.get("scope") || "").trim() || "any",
      groups: listToArray(form.get("groups")),
      card_numbers: listToArray(form.get("card_numbers")),
      face_ids: listToArray(form.get("face_ids")),
    };
    const { answer, failure } = await send("POST", "/api/workers", body);
    if (!answer.ok) {
      const details = (failure.errors || []).map((e) => (e.column ? e.column + ": " : "") + e.problem);
      say("worker-enrol-message", t("workers.enrol.failed") + ": " + [failureText(failure), ...details].join("; "));
      return;
    }
    const worker = await answer.json();
    say("worker-enrol-message", t("workers.enrolled") + ": " + worker.display_name + " (" + worker.worker_id + ")");
    event.target.reset();
    await load();
    await open(worker.worker_id);
  }

  async function importFile(event) {
    event.preventDefault();
    const file = new FormData(event.target).get("file");
    const problems = $("worker-import-problems");
    problems.hidden = true;
    problems.tBodies[0].replaceChildren();
    if (!file || !file.size) return;
    // The bytes as they are: the central reads UTF-8 and GBK files alike.
    const data = await file.arrayBuffer();
    const { answer, failure } = await send("POST", "/api/workers/import", data, "text/csv");
    if (answer.ok) {
      const imported = await answer.json();
      say("worker-import-message", t("workers.imported").replace("{count}", String(imported.imported)));
      event.target.reset();
      await load();
      return;
    }
    say("worker-import-message", t("workers.import.failed") + ": " + failureText(failure));
    for (const problem of failure.errors || []) {
      const row = el("tr");
      row.dataset.row = problem.row === null || problem.row === undefined ? "" : String(problem.row);
      row.append(el("td", problem.row === null || problem.row === undefined ? t("workers.import.file_problem") : problem.row),
        el("td", problem.column || ""), el("td", problem.problem));
      problems.tBodies[0].append(row);
    }
    problems.hidden = problems.tBodies[0].rows.length === 0;
  }

  function statusText(worker) {
    let text = t("workers.status." + worker.status);
    if (worker.revocation) text += " · " + worker.revocation.reason;
    return text;
  }

  async function load() {
    const form = new FormData($("workers-search"));
    const params = new URLSearchParams();
    for (const [key, value] of form) if (value) params.set(key, String(value).trim());
    params.set("limit", "200");
    const { answer } = await send("GET", "/api/workers?" + params.toString());
    const body = $("workers-list");
    body.replaceChildren();
    if (!answer.ok) return;
    const workers = await answer.json();
    $("workers-none").hidden = workers.length > 0;
    for (const worker of workers) {
      const row = el("tr");
      row.dataset.worker = worker.worker_id;
      row.dataset.status = worker.status;
      row.append(el("td", worker.worker_id), el("td", worker.display_name, { class: "worker-name" }),
        el("td", t("platform." + worker.platform)), el("td", statusText(worker), { class: "worker-status" }),
        el("td", [...worker.card_numbers, ...worker.face_ids].join(", ")));
      const cell = el("td");
      cell.append(button("workers.open", () => open(worker.worker_id), { "data-open": worker.worker_id }));
      row.append(cell);
      body.append(row);
    }
  }

  // One worker: details, revocation, pass links.
  async function open(workerId) {
    const panel = $("worker-panel");
    // Busy until drawn again: what is typed meanwhile into the panel it replaces is lost.
    panel.setAttribute("aria-busy", "true");
    try {
      await draw(panel, workerId);
    } finally {
      panel.removeAttribute("aria-busy");
    }
  }

  async function draw(panel, workerId) {
    const { answer } = await send("GET", "/api/workers/" + encodeURIComponent(workerId));
    if (!answer.ok) { panel.hidden = true; return; }
    const worker = await answer.json();
    panel.replaceChildren();
    panel.dataset.worker = worker.worker_id;
    panel.append(el("h3", worker.display_name + " (" + worker.worker_id + ")"));
    const facts = el("dl", null, { class: "policy-values" });
    const fact = (key, value) => { facts.append(words(key, "dt"), el("dd", value)); };
    fact("workers.platform", t("platform." + worker.platform));
    fact("workers.status", t("workers.status." + worker.status));
    fact("workers.scope", worker.scope);
    if (worker.groups.length) fact("workers.groups", worker.groups.join(", "));
    if (worker.revocation) {
      fact("workers.revoked.reason", worker.revocation.reason);
      fact("workers.revoked.by", (worker.revocation.revoked_by || "") + " · " +
        new Date(worker.revocation.revoked_at).toLocaleString(window.yzI18n.language));
    }
    panel.append(facts);
    if (canAct() && worker.status !== "revoked") {
      const form = el("form", null, { id: "worker-revoke", class: "filters" });
      const reason = el("input", null, { name: "reason", maxlength: "500", required: "" });
      const revoke = words("workers.revoke", "button");
      revoke.type = "submit";
      form.append(field("workers.revoke.reason", reason), revoke);
      form.addEventListener("submit", (e) => revokeWorker(e, worker.worker_id));
      panel.append(form);
    }
    panel.append(words("workers.links", "h4"), el("ul", null, { id: "worker-links" }));
    if (canAct() && worker.status === "active") {
      panel.append(button("workers.links.issue", () => issueLink(worker), { id: "worker-issue-link" }));
    }
    panel.append(el("p", null, { id: "worker-message", role: "status" }));
    panel.append(card());
    panel.hidden = false;
    await loadLinks(worker.worker_id);
  }

  async function revokeWorker(event, workerId) {
    event.preventDefault();
    const reason = String(new FormData(event.target).get("reason") || "").trim();
    if (!reason || !window.confirm(t("workers.revoke.confirm"))) return;
    const { answer, failure } = await send("POST", "/api/workers/" + encodeURIComponent(workerId) + "/revoke", { reason });
    if (!answer.ok) { say("worker-message", t("workers.revoke.failed") + ": " + failureText(failure)); return; }
    await load();
    await open(workerId);
  }

  async function loadLinks(workerId) {
    const list = $("worker-links");
    const { answer } = await send("GET", "/api/workers/" + encodeURIComponent(workerId) + "/pass-links");
    list.replaceChildren();
    if (!answer.ok) return;
    for (const link of await answer.json()) {
      const when = new Date(link.created_at).toLocaleString(window.yzI18n.language);
      const item = el("li", "#" + link.id + " · " + when + " · ");
      item.dataset.link = String(link.id);
      if (link.revoked_at) {
        item.append(words("workers.links.revoked"));
        item.dataset.revoked = "true";
      } else {
        item.append(words("workers.links.live"));
        if (canAct()) item.append(" ", button("workers.links.revoke", () => revokeLink(link.id, workerId), { "data-revoke-link": String(link.id) }));
      }
      list.append(item);
    }
  }

  async function revokeLink(linkId, workerId) {
    if (!window.confirm(t("workers.links.revoke.confirm"))) return;
    const { answer, failure } = await send("DELETE", "/api/pass-links/" + linkId);
    if (!answer.ok) { say("worker-message", failureText(failure)); return; }
    await loadLinks(workerId);
  }

  // The card to print and hand over: name, id, the link's QR code and its address. The
  // secret is in this answer only: the card is drawn now or never.
  function card() {
    const box = el("div", null, { id: "pass-card", hidden: "" });
    box.append(el("p", null, { class: "card-title", "data-i18n": "workers.card.title" }),
      el("p", null, { id: "pass-card-name", class: "card-name" }),
      el("p", null, { id: "pass-card-id", class: "card-id" }),
      el("img", null, { id: "pass-card-qr", alt: "QR" }),
      el("p", null, { id: "pass-card-url", class: "card-url" }),
      el("p", null, { class: "card-note", "data-i18n": "workers.card.note" }));
    box.querySelector(".card-title").textContent = t("workers.card.title");
    box.querySelector(".card-note").textContent = t("workers.card.note");
    const print = button("workers.card.print", () => {
      document.body.classList.add("yz-print-card");
      window.print();
    }, { id: "pass-card-print", class: "no-print" });
    box.append(print);
    return box;
  }

  async function issueLink(worker) {
    const { answer, failure } = await send("POST", "/api/workers/" + encodeURIComponent(worker.worker_id) + "/pass-links");
    if (!answer.ok) { say("worker-message", failureText(failure)); return; }
    const link = await answer.json();
    $("pass-card-name").textContent = worker.display_name;
    $("pass-card-id").textContent = worker.worker_id;
    $("pass-card-qr").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(link.qr_svg);
    $("pass-card-url").textContent = link.url;
    $("pass-card").hidden = false;
    say("worker-message", t("workers.links.once"));
    await loadLinks(worker.worker_id);
  }

  window.addEventListener("afterprint", () => document.body.classList.remove("yz-print-card"));

  document.addEventListener("yz-workers", (event) => {
    const again = role !== event.detail.role;
    role = event.detail.role;
    if (!built || again) build();
    // Shown again on a language switch too (app.js routes again): the one label that is
    // not an element's text.
    $("workers-search").elements.q.placeholder = t("workers.search.placeholder");
    load();
  });
})();
