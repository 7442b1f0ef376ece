// The tenant dashboard: the live swarm graph, the event feed, the charts and the
// control panel, fed by one server-sent event stream (/api/live/{id}/events).
//
// The stream carries two kinds of messages: `swarm` events (persisted, with an id, so a
// reconnecting EventSource resumes exactly after the last one it got) and `activity`
// signals (who calls whom now, agents restarting; not persisted, no id).
"use strict";

(() => {
  const { api, el, svg, errorText } = Boardroom;
  const $ = (id) => document.getElementById(id);

  const FEED_LIMIT = 500;         // events kept in the feed
  const LIT_MS = 1200;            // how long an edge stays lit after a message
  const THROTTLED_MS = 4000;      // how long a node shows "throttled" after a hold
  const THROTTLED_LIST_MS = 60000;

  const view = {
    business: null,
    snapshot: null,
    source: null,
    nodes: new Map(),    // name -> { group, stateText, working, throttledUntil, restarting }
    edges: new Map(),    // "from>to" -> { line, timer }
    positions: new Map(),
    throttled: new Map(), // agent -> last time it was held or refused
    agents: new Set(),
    kinds: new Set(),
    refreshTimer: null,
    productsTimer: null,
    chartsTimer: null,
    mediaTimer: null,
  };

  // ---------- start-up ----------

  async function start() {
    const profile = await Boardroom.requireLogin();
    $("user-email").textContent = profile.user.email;
    $("admin-link").hidden = profile.role !== "admin";
    $("logout").addEventListener("click", Boardroom.logout);
    wireControls();
    const [list, demo] = await Promise.all([
      api("GET", "/api/business/list?limit=100"),
      api("GET", "/api/business/demo"),
    ]);
    const own = (list.body && list.body.items) || [];
    // The admin also sees the demo business (which nobody owns), with its history.
    const demoBusiness = demo.status === 200 && demo.body.can_open ? demo.body.business : null;
    const businesses = demoBusiness ? own.concat([{ ...demoBusiness, name: demoBusiness.name + " (demo)" }]) : own;
    if (own.length === 0) showCreateForm(demo.status === 200);
    if (businesses.length === 0) return;
    const select = $("business-select");
    select.replaceChildren(...businesses.map((b) => el("option", { value: b.id, text: b.name })));
    const wanted = new URLSearchParams(location.search).get("business");
    const chosen = businesses.find((b) => String(b.id) === wanted) || businesses[0];
    select.value = chosen.id;
    select.addEventListener("change", () => {
      history.replaceState(null, "", "/app?business=" + select.value);
      open(Number(select.value));
    });
    open(chosen.id);
  }

  /** The first-business form; with a demo running, it offers to start from a copy. */
  function showCreateForm(demoRuns) {
    $("create-business").hidden = false;
    $("from-demo-choice").hidden = !demoRuns;
    $("create-form").addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const request = {
        name: $("new-name").value,
        personality: $("new-personality").value,
        autopilot: $("new-autopilot").checked,
        start_from_demo: $("new-from-demo").checked,
      };
      const created = await api("POST", "/api/business/create", request);
      if (created.status !== 201) {
        $("create-error").textContent = errorText(created.body, created.status);
        $("create-error").hidden = false;
        return;
      }
      window.location.assign("/app?business=" + created.body.id);
    });
  }

  async function open(businessId) {
    view.business = businessId;
    if (view.source) view.source.close();
    $("dashboard").hidden = false;
    $("feed").replaceChildren(el("li", { class: "waiting muted", text: "Waiting for the swarm's first event: with the autopilot on, a cycle starts within seconds." }));
    $("node-info").textContent = "Tap or hover over an agent to see what it does.";
    showDoing("");
    view.agents.clear();
    view.kinds.clear();
    resetFilter("filter-agent");
    resetFilter("filter-kind");
    await refreshSnapshot();
    drawGraph();
    connect();
    refreshProducts();
    refreshCharts();
    refreshMinutes();
    refreshGuard();
    refreshPayouts();
    refreshMedia();
    clearInterval(view.chartsTimer);
    view.chartsTimer = setInterval(refreshCharts, 20000);
  }

  // ---------- the stream ----------

  function connect() {
    const source = new EventSource("/api/live/" + view.business + "/events");
    view.source = source;
    const badge = $("stream-state");
    source.addEventListener("open", () => { badge.textContent = "live"; badge.className = "badge live-dot ok"; });
    source.addEventListener("error", () => {
      // EventSource reconnects by itself, sending Last-Event-ID.
      badge.textContent = "reconnecting";
      badge.className = "badge live-dot bad";
    });
    source.addEventListener("swarm", (message) => onSwarmEvent(JSON.parse(message.data)));
    source.addEventListener("activity", (message) => onActivity(JSON.parse(message.data)));
    source.addEventListener("skipped", (message) => {
      const { missed } = JSON.parse(message.data);
      $("control-message").textContent = "the graph skipped " + missed + " signals to keep up";
    });
  }

  function onSwarmEvent(event) {
    document.body.dataset.lastSeq = event.seq;
    addToFeed(event);
    followCycle(event);
    const kind = event.kind;
    if (kind === "throttle.waited" || kind === "throttle.refused") {
      view.throttled.set(event.actor, Date.now());
      markThrottled(event.actor);
      renderThrottled();
    }
    if (kind.startsWith("swarm.") || kind.startsWith("autopilot.") || kind.startsWith("throttle.changed")) {
      scheduleSnapshot();
    }
    // A launch lists a new product: the table shows it at once, not at the next price move.
    if (kind.startsWith("pricing.") || kind.startsWith("product") || kind === "ceo.product_launched") {
      scheduleProducts();
    }
    // A closed day moves the charts and the autopilot's count of cycles.
    if (kind === "cycle.completed") {
      refreshCharts();
      scheduleSnapshot();
    }
    if (kind === "ceo.report") refreshMinutes();
    if (kind.startsWith("guard.")) scheduleGuard();
    // A cover, voice-over or clip was kept: the library shows it.
    if (kind.startsWith("content.") && kind.endsWith("_made")) scheduleMedia();
    if (kind === "agent.failed") setRestarting(event.actor, true);
    if (kind === "agent.restarted") setRestarting(event.actor, false);
  }

  function onActivity(signal) {
    if (signal.type === "agent") {
      setAgentState(signal.agent, signal.state);
      return;
    }
    if (signal.type === "adapter") {
      setAdapterState(signal.adapter, signal.state);
      return;
    }
    const { from, to, phase } = signal;
    ensureNode(from);
    ensureNode(to);
    if (phase === "sent" || phase === "started") lightEdge(from, to);
    const node = view.nodes.get(to);
    if (!node) return;
    if (phase === "started") {
      node.working += 1;
      node.throttledUntil = 0;
      node.lifecycle = "idle"; // handling a message: awake, whatever signal was missed
    } else if (phase === "finished" || phase === "failed") {
      node.working = Math.max(0, node.working - 1);
    } else if (phase === "throttled" || phase === "refused") {
      node.throttledUntil = Date.now() + THROTTLED_MS;
      setTimeout(() => renderNode(to), THROTTLED_MS + 50);
    }
    renderNode(to);
  }

  // ---------- the graph ----------

  // Two layouts: wide, and a compact one for phones, so that labels stay readable
  // instead of shrinking with a wide drawing.
  const WIDE = { width: 640, height: 440, cx: 320, cy: 215, rx: 215, ry: 150, ceo: 34, agent: 27, corner: 62, adapterX: 412, adapterY: 418, adapterStep: 120 };
  const COMPACT = { width: 360, height: 500, cx: 180, cy: 250, rx: 125, ry: 165, ceo: 30, agent: 25, corner: 60, adapterX: 270, adapterY: 472, adapterStep: -110 };

  function currentLayout() {
    return $("graph").getBoundingClientRect().width < 520 ? COMPACT : WIDE;
  }

  function layout(snapshot, shape) {
    const positions = new Map();
    const { cx, cy } = shape;
    positions.set("ceo", { x: cx, y: cy, shape: "circle", r: shape.ceo });
    const specialists = snapshot.agents.filter((a) => a !== "ceo");
    specialists.forEach((name, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / specialists.length;
      positions.set(name, { x: cx + shape.rx * Math.cos(angle), y: cy + shape.ry * Math.sin(angle), shape: "circle", r: shape.agent });
    });
    positions.set("autopilot", { x: shape.corner, y: 24, shape: "rect" });
    positions.set("api", { x: shape.width - shape.corner, y: 24, shape: "rect" });
    (snapshot.adapters || []).forEach((name, i) => {
      // Below, between two specialists, so that no agent's edge crosses another node.
      positions.set(name, { x: shape.adapterX + i * shape.adapterStep, y: shape.adapterY, shape: "rect" });
    });
    return positions;
  }

  function drawGraph() {
    const graph = $("graph");
    const shape = currentLayout();
    view.shape = shape;
    graph.setAttribute("viewBox", "0 0 " + shape.width + " " + shape.height);
    graph.replaceChildren(svg("g", { id: "edges" }), svg("g", { id: "nodes" }));
    view.nodes.clear();
    view.edges.clear();
    view.positions = layout(view.snapshot, shape);
    for (const name of view.positions.keys()) ensureNode(name);
    ensureEdge("autopilot", "ceo");
    for (const name of view.snapshot.agents) if (name !== "ceo") ensureEdge("ceo", name);
    applySwarmStatus();
  }

  function ensureNode(name) {
    if (view.nodes.has(name)) return;
    let position = view.positions.get(name);
    if (!position) {
      // An adapter or sender the snapshot did not name: park it along the bottom.
      position = { x: 60 + 110 * (view.nodes.size % 3), y: view.shape.adapterY, shape: "rect" };
      view.positions.set(name, position);
    }
    const group = svg("g", { class: "node", id: "node-" + name, "data-node": name, "data-state": "idle" });
    if (position.shape === "circle") {
      group.append(svg("circle", { cx: position.x, cy: position.y, r: position.r }));
    } else {
      group.append(svg("rect", { x: position.x - 55, y: position.y - 19, width: 110, height: 38, rx: 6 }));
    }
    // Circles carry their state below; boxes (outside senders, adapters) inside.
    const label = svg("text", { x: position.x, y: position.y + (position.r ? 4 : -3) });
    label.textContent = name;
    const stateText = svg("text", { class: "state", x: position.x, y: position.y + (position.r ? position.r + 14 : 13) });
    const title = svg("title", {});
    group.append(label, stateText, title);
    // A tap (phones have no hover) says what the node does, below the graph.
    group.addEventListener("click", () => { $("node-info").textContent = roleOf(name); });
    $("nodes").append(group);
    view.nodes.set(name, { group, stateText, title, working: 0, throttledUntil: 0, restarting: false, adapterState: null, lifecycle: null });
    renderNode(name);
  }

  function ensureEdge(from, to) {
    const key = from + ">" + to;
    if (view.edges.has(key)) return view.edges.get(key);
    const a = view.positions.get(from), b = view.positions.get(to);
    if (!a || !b) return null;
    const line = svg("line", {
      class: "edge", id: "edge-" + from + "-" + to, "data-edge": key, "data-lit": "false",
      x1: a.x, y1: a.y, x2: b.x, y2: b.y,
    });
    $("edges").append(line);
    const edge = { line, timer: null };
    view.edges.set(key, edge);
    return edge;
  }

  function lightEdge(from, to) {
    const edge = ensureEdge(from, to);
    if (!edge) return;
    edge.line.setAttribute("data-lit", "true");
    edge.line.setAttribute("data-lit-at", String(Date.now()));
    clearTimeout(edge.timer);
    edge.timer = setTimeout(() => edge.line.setAttribute("data-lit", "false"), LIT_MS);
  }

  /** A node's state, from most to least pressing. Shown as text and shape, not only colour. */
  function nodeState(name) {
    const node = view.nodes.get(name);
    const status = view.snapshot && view.snapshot.status;
    if (node.restarting || status === "restarting" || node.adapterState === "restarting") return "restarting";
    // An adapter's own state comes from its actor: the platform's throttle, its circuit.
    if (node.adapterState === "circuit_open") return "circuit_open";
    // A channel whose platform refused its grant waits for its owner to connect it again.
    if (node.adapterState === "needs_owner") return "needs_owner";
    if (node.throttledUntil > Date.now() || node.adapterState === "throttled") return "throttled";
    if (node.working > 0) return "working";
    if (status === "degraded" && view.snapshot.agents.includes(name)) return "degraded";
    // Spawned on its first message, put to sleep after an idle spell.
    if (node.lifecycle === "asleep" || node.lifecycle === "waking") return node.lifecycle;
    return "idle";
  }

  /** What each node does, shown on hover (its title) and on tap (below the graph). */
  const ROLES = {
    ceo: "The CEO runs each cycle: market analysis, product creation, store set-up, marketing, results, prices, reinvestment; it decides under its personality.",
    strategist: "The strategist scores the market's niches (demand, competition, margin, trend, fit) and chooses where to sell.",
    seo: "SEO researches keywords and writes titles and tags within each platform's length limits.",
    pricing: "Pricing sets launch prices and re-prices from each product's own sales, never below cost plus fees.",
    content: "Content writes product descriptions and social posts, within each platform's limits.",
    flipping: "Flipping works out whether buying low and reselling would net a profit after every fee.",
    accountant: "The accountant books every sale, fee and ad cost in the ledger and plans what to reinvest.",
    memory: "Memory keeps past experiences and finds the ones that matter for a decision at hand.",
    reflection: "Reflection compares what a cycle expected with what it got, adjusts the strategy and writes down lessons.",
    autopilot: "The autopilot starts a cycle on schedule; on the sandbox market a cycle is one simulated day.",
    api: "Requests from this dashboard and from your API tokens.",
  };

  function roleOf(name) {
    if (ROLES[name]) return ROLES[name];
    if (name.startsWith("market:sandbox")) return "The sandbox market: simulated buyers, competitors and ad auctions. No real money moves.";
    if (name.startsWith("market:")) return "The adapter for " + name.slice(7) + ": every call to the platform goes through it.";
    if (name.startsWith("channel:")) return "The connected " + name.slice(8) + " account: the swarm's posts are published there, and their engagement read back.";
    return name;
  }

  /** What the swarm is doing now, in words, by the step the CEO moves to. */
  const STEP_DOING = {
    market_analysis: "The strategist is ranking the market's niches…",
    product_creation: "SEO, pricing and content are designing a product for the chosen niche…",
    store_setup: "The CEO is listing the product on the market…",
    marketing_launch: "The CEO is launching ad flights and social posts…",
    performance_monitoring: "The market is running the day; the accountant books what it brings…",
    revenue_optimization: "Pricing is re-pricing each product from its own sales…",
    reinvestment: "The accountant plans reinvestment; reflection writes down the lessons…",
  };

  function showDoing(text) {
    $("now-doing").textContent = text;
  }

  /** The "now" line follows the cycle's events. */
  function followCycle(event) {
    const data = event.data || {};
    if (event.kind === "cycle.started") showDoing("Cycle " + data.cycle + " started. " + STEP_DOING.market_analysis);
    else if (event.kind === "cycle.resumed") showDoing("Cycle " + data.cycle + " resumed. " + (STEP_DOING[data.step] || ""));
    else if (event.kind === "cycle.step" && STEP_DOING[data.next]) showDoing(STEP_DOING[data.next]);
    else if (event.kind === "cycle.completed") showDoing("Cycle " + data.cycle + " is done. " + nextCycleText());
    else if (event.kind === "autopilot.paused") showDoing("The autopilot is paused: no new cycle starts until you resume it or run one now.");
    else if (event.kind === "throttle.waited") showDoing("Messages to " + event.actor + " wait for the tier's throttle…");
  }

  function nextCycleText() {
    const autopilot = view.snapshot && view.snapshot.autopilot;
    if (!autopilot || !autopilot.running) return "The autopilot is off: press Run a cycle now, or Resume.";
    if (autopilot.paused) return "The autopilot is paused.";
    return "The next cycle starts on the autopilot's schedule.";
  }

  const STATE_LABELS = {
    idle: "○ idle", working: "◉ working", throttled: "◌ throttled",
    restarting: "↻ restarting", degraded: "⚠ degraded", circuit_open: "⊘ circuit open",
    asleep: "☾ asleep", waking: "◔ waking", needs_owner: "⚠ connect again",
  };

  function renderNode(name) {
    const node = view.nodes.get(name);
    if (!node) return;
    const state = nodeState(name);
    node.group.setAttribute("data-state", state);
    node.stateText.textContent = STATE_LABELS[state];
    node.title.textContent = name + " (" + state + "): " + roleOf(name);
  }

  function markThrottled(agent) {
    const node = view.nodes.get(agent);
    if (!node) return;
    node.throttledUntil = Date.now() + THROTTLED_MS;
    renderNode(agent);
    setTimeout(() => renderNode(agent), THROTTLED_MS + 50);
  }

  function setRestarting(agent, restarting) {
    const node = view.nodes.get(agent);
    if (!node) return;
    node.restarting = restarting;
    if (!restarting) node.working = 0;
    renderNode(agent);
  }

  /** An agent's lifecycle as supervision reports it (or the snapshot did). */
  function setAgentState(agent, state) {
    const node = view.nodes.get(agent);
    if (!node) return;
    node.lifecycle = state;
    setRestarting(agent, state === "restarting");
  }

  /** A connected account's adapter actor reported its state (or the snapshot did). */
  function setAdapterState(adapter, state) {
    ensureNode(adapter);
    const node = view.nodes.get(adapter);
    if (!node) return;
    node.adapterState = state;
    renderNode(adapter);
  }

  function applySwarmStatus() {
    const states = (view.snapshot && view.snapshot.adapter_states) || {};
    for (const [adapter, state] of Object.entries(states)) setAdapterState(adapter, state);
    const agents = (view.snapshot && view.snapshot.agent_states) || {};
    for (const [agent, state] of Object.entries(agents)) setAgentState(agent, state);
    for (const name of view.nodes.keys()) renderNode(name);
  }

  // ---------- the feed ----------

  function addToFeed(event) {
    const feed = $("feed");
    const waiting = feed.querySelector("li.waiting");
    if (waiting) waiting.remove();
    const time = new Date(event.occurred_at);
    const details = el("details", {},
      el("summary", {},
        el("span", { class: "seq", text: "#" + event.seq }),
        el("span", { class: "actor", text: event.actor }),
        el("span", { class: "kind", text: event.kind }),
        el("span", { class: "text", text: event.summary }),
        el("time", { datetime: event.occurred_at, text: time.toLocaleTimeString() })),
      el("pre", { text: JSON.stringify({ data: event.data, revenue_impact: event.revenue_impact, occurred_at: event.occurred_at }, null, 2) }));
    const item = el("li", { class: "fresh", "data-seq": event.seq, "data-kind": event.kind, "data-actor": event.actor }, details);
    item.hidden = !matchesFilter(item);
    feed.prepend(item);
    while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
    addOption("filter-agent", view.agents, event.actor);
    addOption("filter-kind", view.kinds, event.kind);
    $("feed-count").textContent = feed.children.length + " shown, newest first";
  }

  function resetFilter(id) {
    $(id).replaceChildren(el("option", { value: "", text: "all" }));
  }

  function addOption(id, seen, value) {
    if (seen.has(value)) return;
    seen.add(value);
    const select = $(id);
    const options = [...seen].sort().map((v) => el("option", { value: v, text: v }));
    const current = select.value;
    select.replaceChildren(el("option", { value: "", text: "all" }), ...options);
    select.value = current;
  }

  function matchesFilter(item) {
    const agent = $("filter-agent").value, kind = $("filter-kind").value;
    return (!agent || item.dataset.actor === agent) && (!kind || item.dataset.kind === kind);
  }

  function applyFilter() {
    for (const item of $("feed").children) item.hidden = !matchesFilter(item);
  }

  // ---------- the board minutes ----------

  // The CEO's report of each cycle (GET /api/business/{id}/reports, newest first): the
  // latest in full on top, older ones folded below, and more on request. Reloaded when
  // a `ceo.report` event says a cycle's minutes were written. Only this section reads
  // or writes `minutes`.
  const MINUTES_PAGE = 20;
  const minutes = { generation: 0, nextBefore: null, business: null };

  /** Loads the newest page again (a new report, or another business). */
  async function refreshMinutes() {
    const business = view.business;
    const generation = ++minutes.generation;
    const answer = await api("GET", "/api/business/" + business + "/reports?limit=" + MINUTES_PAGE);
    // A later refresh (or a switch to another business) owns the card now.
    if (generation !== minutes.generation || business !== view.business) return;
    if (answer.status !== 200) {
      $("minutes-note").textContent = errorText(answer.body, answer.status);
      return;
    }
    minutes.business = business;
    const [latest, ...older] = answer.body.items;
    $("minutes-note").textContent = "";
    if (!latest) {
      $("minutes-latest").replaceChildren(el("p", { class: "muted", text: "No minutes yet: the first cycle's report appears here when it ends." }));
      $("minutes-history").replaceChildren();
    } else {
      $("minutes-latest").replaceChildren(minutesArticle(latest));
      $("minutes-history").replaceChildren(...older.map(foldedMinutes));
    }
    setNextBefore(answer.body.next_before);
  }

  /** Appends the next older page to the history. */
  async function olderMinutes() {
    const business = minutes.business;
    if (minutes.nextBefore === null || business !== view.business) return;
    const generation = minutes.generation;
    const answer = await api("GET", "/api/business/" + business + "/reports?limit=" + MINUTES_PAGE + "&before=" + minutes.nextBefore);
    if (generation !== minutes.generation || business !== view.business) return;
    if (answer.status !== 200) {
      $("minutes-note").textContent = errorText(answer.body, answer.status);
      return;
    }
    $("minutes-history").append(...answer.body.items.map(foldedMinutes));
    setNextBefore(answer.body.next_before);
  }

  function setNextBefore(cycle) {
    minutes.nextBefore = cycle ?? null;
    $("minutes-older").hidden = minutes.nextBefore === null;
  }

  /** "written offline" or "written by <model>": who wrote the words. */
  function minutesSource(source) {
    if (source === "offline") return "written offline, from the agents' own reasons";
    return "written by " + String(source).replace(/^llm:/, "");
  }

  function minutesMeta(report) {
    const day = report.data && report.data.day;
    const parts = ["Cycle " + report.cycle];
    if (day !== undefined && day !== null) parts.push("simulated day " + day);
    return el("p", { class: "meta" },
      el("span", { text: parts.join(" · ") }),
      el("span", { class: "badge source " + (report.source === "offline" ? "offline" : "model"), "data-source": report.source, text: minutesSource(report.source) }),
      " ",
      el("time", { datetime: report.written_at, text: new Date(report.written_at).toLocaleString() }));
  }

  /** The money a cycle moved, from the facts the minutes were written from. */
  function minutesMoney(report) {
    const data = report.data || {};
    const currency = data.currency || "USD";
    const outcome = data.outcome || {};
    const marketing = data.marketing || {};
    const reinvestment = data.reinvestment || {};
    const figures = [
      ["Revenue", outcome.revenue],
      ["Ad spend", outcome.ad_spend],
      ["Net", outcome.net],
      ["Launch price", data.launch && data.launch.price],
      ["Ads committed", Number(marketing.ad_budget_committed) > 0 ? marketing.ad_budget_committed : null],
      ["Reinvested", Number(reinvestment.total) > 0 ? reinvestment.total : null],
    ].filter(([, amount]) => amount !== undefined && amount !== null);
    if (figures.length === 0) return null;
    return el("dl", { class: "money" }, ...figures.map(([label, amount]) =>
      el("div", {}, el("dt", { text: label }), el("dd", { "data-amount": amount, text: moneyText(amount, currency) }))));
  }

  function moneyText(amount, currency) {
    const value = Number(amount);
    if (!Number.isFinite(value)) return String(amount);
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(value);
    } catch (_) {
      return value.toFixed(2) + " " + currency;
    }
  }

  /** One report in full: headline, who wrote it, the minutes and the money. */
  function minutesArticle(report) {
    const paragraphs = String(report.minutes).split(/\n\s*\n/).filter((text) => text.trim() !== "");
    return el("article", { class: "minutes", "data-cycle": report.cycle },
      el("h3", { text: report.headline }),
      minutesMeta(report),
      minutesMoney(report),
      ...paragraphs.map((text) => el("p", { text: text.trim() })));
  }

  /** An older report, folded to its headline. */
  function foldedMinutes(report) {
    const day = report.data && report.data.day;
    const label = "Cycle " + report.cycle + (day !== undefined && day !== null ? " · day " + day : "");
    return el("details", { class: "minutes-folded", "data-cycle": report.cycle },
      el("summary", {}, el("span", { class: "when", text: label }), el("span", { class: "headline", text: report.headline })),
      minutesArticle(report));
  }

  $("minutes-older").addEventListener("click", olderMinutes);

  // ---------- the spending guard ----------
  //
  // The owner's caps and approval threshold (a form over GET/PUT /api/business/{id}/guard)
  // and the approval queue (GET /api/business/{id}/approvals, answered with
  // POST /api/approvals/{id}/approve|reject). Any `guard.*` event refreshes it.

  const GUARD_FIELDS = ["ad_spend_per_day", "ad_spend_per_month", "price_cut_percent_per_cycle", "refunds_per_day", "approval_threshold"];
  let guardTimer = null;

  function scheduleGuard() {
    clearTimeout(guardTimer);
    guardTimer = setTimeout(refreshGuard, 250);
  }

  async function refreshGuard() {
    const business = view.business;
    const [guard, queue] = await Promise.all([
      api("GET", "/api/business/" + business + "/guard"),
      api("GET", "/api/business/" + business + "/approvals?limit=50"),
    ]);
    if (business !== view.business) return;
    if (guard.status !== 200 || queue.status !== 200) {
      $("guard-note").textContent = errorText((guard.status !== 200 ? guard : queue).body, guard.status !== 200 ? guard.status : queue.status);
      return;
    }
    const form = $("guard-form");
    // A field the owner is typing in keeps what they typed.
    for (const name of GUARD_FIELDS) {
      const input = form.elements[name];
      if (document.activeElement !== input) input.value = guard.body[name] ?? "";
    }
    if (document.activeElement !== form.elements.approval_expires_after_hours) {
      form.elements.approval_expires_after_hours.value = guard.body.approval_expires_after_hours;
    }
    const items = queue.body.items;
    const pending = items.filter((item) => item.status === "pending");
    const answered = items.filter((item) => item.status !== "pending");
    $("approvals").replaceChildren(...(pending.length
      ? pending.map(pendingApproval)
      : [el("li", { class: "muted", text: "Nothing waits for you." })]));
    $("approvals-answered").replaceChildren(...answered.map((item) =>
      el("li", { "data-approval": item.id, "data-status": item.status },
        el("span", { class: "badge " + (item.status === "rejected" || item.status === "expired" ? "warn" : "ok"), text: item.status }),
        " " + item.summary)));
    $("approvals-count").textContent = pending.length ? "(" + pending.length + ")" : "";
  }

  function pendingApproval(item) {
    const expected = item.expected || {};
    const approve = el("button", { type: "button", class: "primary", text: "Approve", "data-approve": item.id });
    const reject = el("button", { type: "button", text: "Reject", "data-reject": item.id });
    approve.addEventListener("click", () => answerApproval(item.id, "approve"));
    reject.addEventListener("click", () => answerApproval(item.id, "reject"));
    return el("li", { "data-approval": item.id, "data-status": item.status },
      el("p", { class: "summary", text: item.summary }),
      el("p", { class: "muted", text: "Commits $" + item.amount + (expected.why ? "; the agent expects: " + expected.why : "") }),
      el("p", { class: "muted", text: "Expires " + new Date(item.expires_at).toLocaleString() }),
      el("div", { class: "row" }, approve, reject));
  }

  async function answerApproval(id, verb) {
    const answer = await api("POST", "/api/approvals/" + id + "/" + verb);
    $("guard-note").textContent = answer.status === 200
      ? (verb === "approve" ? "approved: the swarm carries it out at its next cycle" : "rejected: the swarm will not do it")
      : errorText(answer.body, answer.status);
    refreshGuard();
  }

  $("guard-form").addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const form = $("guard-form");
    const body = {};
    for (const name of GUARD_FIELDS) {
      const value = form.elements[name].value.trim();
      body[name] = value === "" ? null : value;
    }
    body.approval_expires_after_hours = Number(form.elements.approval_expires_after_hours.value || 24);
    const answer = await api("PUT", "/api/business/" + view.business + "/guard", body);
    $("guard-note").textContent = answer.status === 200 ? "guard saved" : errorText(answer.body, answer.status);
    if (answer.status === 200) refreshGuard();
  });

  // ---------- payouts (Stripe Connect) ----------

  async function refreshPayouts() {
    const business = view.business;
    const answer = await api("GET", "/api/business/" + business + "/stripe");
    if (business !== view.business) return;
    const status = $("payouts-status");
    const button = $("payouts");
    if (answer.status === 409) {
      status.textContent = "Payouts are not set up on this server.";
      button.disabled = true;
      return;
    }
    button.disabled = false;
    if (answer.status !== 200) {
      status.textContent = errorText(answer.body, answer.status);
      return;
    }
    const payouts = answer.body;
    status.textContent = !payouts.connected
      ? "Not set up yet."
      : payouts.payouts_enabled
        ? "Stripe pays out to your bank (" + payouts.account + ")."
        : "Onboarding not finished: Stripe needs more details.";
    button.textContent = payouts.connected && !payouts.payouts_enabled ? "Continue onboarding" : "Set up payouts with Stripe";
    button.hidden = payouts.connected && payouts.payouts_enabled;
  }

  $("payouts").addEventListener("click", async () => {
    $("payouts-status").textContent = "…";
    const returnUrl = location.origin + "/app?business=" + view.business;
    const answer = await api("POST", "/api/business/" + view.business + "/stripe/onboard", { return_url: returnUrl });
    if (answer.status === 200 && answer.body.onboarding_url) {
      window.location.assign(answer.body.onboarding_url);
    } else {
      $("payouts-status").textContent = errorText(answer.body, answer.status);
    }
  });

  // ---------- the control panel ----------

  function wireControls() {
    $("filter-agent").addEventListener("change", applyFilter);
    $("filter-kind").addEventListener("change", applyFilter);
    $("pause").addEventListener("click", () => control("PUT", "/api/business/" + view.business, { autopilot: false }, "autopilot paused"));
    $("resume").addEventListener("click", () => control("PUT", "/api/business/" + view.business, { autopilot: true }, "autopilot resumed"));
    $("run-now").addEventListener("click", () => control("POST", "/api/live/" + view.business + "/run-cycle", undefined, "cycle requested"));
    $("switch-personality").addEventListener("click", () =>
      control("PUT", "/api/business/" + view.business, { personality: $("personality").value }, "personality switched; the swarm restarts under it"));
    $("hear-personality").addEventListener("click", () => {
      const player = $("personality-voice");
      player.src = "/api/media/voices/" + encodeURIComponent($("personality").value);
      player.hidden = false;
      player.play().catch(() => { /* the browser may want a second tap to play sound */ });
    });
  }

  async function control(method, path, body, done) {
    const message = $("control-message");
    message.textContent = "…";
    const answer = await api(method, path, body);
    message.textContent = answer.status < 300 ? done : errorText(answer.body, answer.status);
    scheduleSnapshot();
  }

  function scheduleSnapshot() {
    clearTimeout(view.refreshTimer);
    view.refreshTimer = setTimeout(async () => { await refreshSnapshot(); applySwarmStatus(); }, 250);
  }

  async function refreshSnapshot() {
    const answer = await api("GET", "/api/live/" + view.business + "/swarm");
    if (answer.status !== 200) {
      $("control-message").textContent = errorText(answer.body, answer.status);
      return;
    }
    const snapshot = answer.body;
    view.snapshot = snapshot;
    $("graph-title").textContent = snapshot.name + " · swarm";
    const status = snapshot.status;
    const statusBadge = $("swarm-status");
    statusBadge.textContent = "swarm: " + status.replace("_", " ");
    statusBadge.className = "badge " + ({ running: "ok", degraded: "warn", restarting: "bad" }[status] || "");
    const autopilot = snapshot.autopilot;
    const autopilotBadge = $("autopilot-status");
    let autopilotText = "autopilot off";
    if (autopilot && autopilot.running) autopilotText = autopilot.paused ? "autopilot paused" : "autopilot running";
    else if (snapshot.autopilot_setting) autopilotText = "autopilot on (starting)";
    autopilotBadge.textContent = autopilotText + (autopilot ? " · " + autopilot.cycles_run + (autopilot.cycles_run === 1 ? " cycle" : " cycles") : "");
    autopilotBadge.className = "badge " + (autopilot && autopilot.running && !autopilot.paused ? "ok" : "warn");
    showMarket(snapshot.market);
    $("personality").value = String(snapshot.personality).toLowerCase();
    $("tier").textContent = snapshot.tier;
    const limits = (snapshot.throttle && snapshot.throttle.limits) || {};
    const tierLimits = snapshot.tier_limits || {};
    $("limit-mpm").textContent = limits.messages_per_minute ?? tierLimits.messages_per_minute ?? "unlimited";
    $("limit-burst").textContent = limits.burst ?? tierLimits.message_burst ?? "—";
    const limit = (name, tierName) => {
      const value = name in limits ? limits[name] : tierLimits[tierName ?? name];
      return value === null || value === undefined ? "unlimited" : String(value);
    };
    $("limit-tokens").textContent = limit("llm_tokens_per_day");
    $("limit-concurrent").textContent =
      limit("concurrent_llm_calls") + " LLM · " + limit("concurrent_adapter_calls") + " platform";
    const inFlight = snapshot.throttle && snapshot.throttle.in_flight;
    $("in-flight").textContent = inFlight
      ? inFlight.llm_calls + " LLM · " + inFlight.adapter_calls + " platform"
      : "swarm not running";
    $("limit-override").textContent = snapshot.override
      ? "yes: " + Object.entries(snapshot.override).map(([name, value]) => name.replaceAll("_", " ") + " " + (value ?? "unlimited")).join(", ")
      : "none";
    const counters = snapshot.throttle && snapshot.throttle.counters;
    $("throttle-counters").textContent = counters ? counters.waited + " held / " + counters.refused + " refused" : "swarm not running";
    renderThrottled();
  }

  /** Where the swarm acts: the sandbox, a dry run, or a connected platform with its circuit. */
  function showMarket(market) {
    const badge = $("market-status");
    badge.hidden = !market;
    if (!market) return;
    const circuit = market.circuit;
    badge.dataset.platform = market.platform;
    badge.dataset.circuit = circuit || "";
    badge.dataset.mode = market.mode;
    if (market.mode === "sandbox") {
      badge.textContent = "sandbox market";
      badge.className = "badge";
    } else if (market.mode === "dry_run") {
      badge.textContent = "shopify · dry run";
      badge.className = "badge warn";
    } else {
      badge.textContent = market.platform + " · live" + (circuit && circuit !== "closed" ? " · circuit " + circuit.replace("_", "-") : "");
      badge.className = "badge " + (circuit === "open" ? "bad" : circuit === "half_open" ? "warn" : "ok");
    }
    badge.title = circuit === "open"
      ? "The platform kept failing: calls fail at once until a trial call after the cool-down."
      : "Where the swarm acts";
  }

  function renderThrottled() {
    const now = Date.now();
    const recent = [...view.throttled.entries()].filter(([, at]) => now - at < THROTTLED_LIST_MS);
    const list = $("throttled-list");
    if (recent.length === 0) {
      list.replaceChildren(el("li", { class: "muted", text: "nothing" }));
      return;
    }
    list.replaceChildren(...recent.map(([agent, at]) =>
      el("li", { text: "messages to " + agent + " (last " + Math.round((now - at) / 1000) + " s ago)" })));
  }

  // ---------- the media library ----------

  const MEDIA_SHOWN = 24;

  function scheduleMedia() {
    clearTimeout(view.mediaTimer);
    view.mediaTimer = setTimeout(refreshMedia, 500);
  }

  /** The business's newest files, each previewed: pictures shown, sound and video playable. */
  async function refreshMedia() {
    const business = view.business;
    const answer = await api("GET", "/api/media/list?business_id=" + business + "&limit=" + MEDIA_SHOWN);
    if (answer.status !== 200 || business !== view.business) return;
    const items = answer.body.items;
    $("media-note").textContent = items.length === 0 ? "" : items.length + (answer.body.next_after === null ? "" : "+") + " files";
    if (items.length === 0) {
      $("media").replaceChildren(el("p", { class: "muted", text: "No files yet: each product the swarm lists gets a cover, a voice-over and a clip." }));
      return;
    }
    // A file already shown keeps its figure, so a voice-over or clip someone is playing
    // (or has loaded) goes on when a newer file arrives; only new files get a player.
    const shown = new Map([...$("media").querySelectorAll("figure[data-source]")].map((figure) => [figure.dataset.source, figure]));
    $("media").replaceChildren(...items.map((file) => {
      const source = "/api/media/" + file.id + "?business_id=" + business;
      if (shown.has(source)) return shown.get(source);
      const type = file.content_type;
      let preview;
      if (type.startsWith("image/")) preview = el("img", { src: source, alt: file.name, loading: "lazy" });
      else if (type.startsWith("audio/")) preview = el("audio", { src: source, controls: true, preload: "none" });
      else if (type.startsWith("video/")) preview = el("video", { src: source, controls: true, preload: "metadata" });
      else preview = el("a", { href: source, text: "download" });
      const size = file.size_bytes < 1024 * 1024
        ? Math.max(1, Math.round(file.size_bytes / 1024)) + " KiB"
        : (file.size_bytes / (1024 * 1024)).toFixed(1) + " MiB";
      return el("figure", { "data-media": file.id, "data-type": type, "data-source": source },
        preview,
        el("figcaption", {}, el("strong", { text: file.name }), " · " + type + " · " + size));
    }));
  }

  function scheduleProducts() {
    clearTimeout(view.productsTimer);
    view.productsTimer = setTimeout(refreshProducts, 300);
  }

  async function refreshProducts() {
    const answer = await api("GET", "/api/products/list?business_id=" + view.business + "&limit=100");
    if (answer.status !== 200) return;
    const items = answer.body.items;
    const body = $("products");
    if (items.length === 0) return;
    body.replaceChildren(...items.map((product) => {
      const input = el("input", { class: "price", type: "number", min: "0.01", step: "0.01", value: product.price, "aria-label": "Price of " + product.title, "data-product": product.id });
      const pin = el("button", { type: "button", text: "Pin", "data-pin": product.id });
      const release = el("button", { type: "button", text: "Release", "data-release": product.id });
      pin.addEventListener("click", () => control("PUT", priceOverridePath(product.id), { price: input.value }, "price of " + product.title + " pinned at " + input.value));
      release.addEventListener("click", () => control("PUT", priceOverridePath(product.id), { price: null }, product.title + " released to the pricing agent"));
      return el("tr", { "data-product-row": product.id },
        el("td", { text: product.title }),
        el("td", { class: "num", text: product.price }),
        el("td", {}, el("div", { class: "row" }, input, pin, release)));
    }));
  }

  function priceOverridePath(productId) {
    return "/api/live/" + view.business + "/products/" + productId + "/price-override";
  }

  // ---------- the charts ----------

  const CHARTS = [
    { field: "revenue", title: "Revenue", money: true },
    { field: "profit", title: "Profit", money: true },
    { field: "ad_spend", title: "Ad spend", money: true },
    { field: "events", title: "Events / bucket" },
    { field: "llm_tokens", title: "LLM tokens" },
  ];

  // On the sandbox market a cycle is a simulated day, a minute or so of wall time: the
  // charts follow days there (an hour of wall time would show a spike, not a curve).
  async function refreshCharts() {
    if (!view.business) return;
    const byDay = Boolean(view.snapshot && view.snapshot.simulated_market);
    const path = byDay ? "/series/days?days=30" : "/series?minutes=60";
    const answer = await api("GET", "/api/live/" + view.business + path);
    if (answer.status !== 200) return;
    const series = answer.body;
    if (byDay) {
      const closed = series.points.filter((p) => p.completed);
      $("charts-title").textContent = "Simulated days";
      $("sim-day").hidden = series.today === 0;
      $("sim-day").textContent = "simulated day " + series.today;
      $("charts-note").textContent = closed.length
        ? "a point per closed day · " + series.days_completed + (series.days_completed === 1 ? " day" : " days") + " shown"
        : "";
      if (closed.length === 0) {
        $("charts").replaceChildren(el("p", { class: "muted empty", text: "No day has closed yet: each chart gets its first point when the running cycle ends." }));
        return;
      }
      const label = (p) => "day " + p.day;
      const perDay = (chart) => ({ ...chart, title: chart.title.replace("/ bucket", "/ day") });
      $("charts").replaceChildren(...CHARTS.map((chart) => drawChart(perDay(chart), closed, "over the last " + closed.length + " simulated days", label)));
      return;
    }
    $("charts-title").textContent = "Last hour";
    $("sim-day").hidden = true;
    $("charts-note").textContent = "buckets of " + series.bucket_secs + " s" + (series.events_truncated ? " · event counts sampled" : "");
    const label = (p) => new Date(p.at).toLocaleTimeString();
    $("charts").replaceChildren(...CHARTS.map((chart) => drawChart(chart, series.points, "over the last hour", label)));
  }

  function drawChart(chart, points, period, label) {
    const values = points.map((p) => Number(p[chart.field]) || 0);
    const total = values.reduce((a, b) => a + b, 0);
    const max = Math.max(0, ...values), min = Math.min(0, ...values);
    const width = 240, height = 80, span = max - min || 1;
    const x = (i) => (i / Math.max(1, values.length - 1)) * width;
    const y = (v) => height - 4 - ((v - min) / span) * (height - 8);
    const path = values.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
    const picture = svg("svg", { viewBox: "0 0 " + width + " " + height, preserveAspectRatio: "none", role: "img", "aria-label": chart.title + " " + period });
    picture.append(
      svg("line", { class: "axis", x1: 0, x2: width, y1: y(0), y2: y(0) }),
      svg("path", { class: "area", d: path + " L" + width + " " + y(0) + " L0 " + y(0) + " Z" }),
      svg("path", { class: "line", d: path }));
    const format = (v) => chart.money ? v.toFixed(2) : String(Math.round(v));
    // Each point's value on hover.
    values.forEach((v, i) => {
      const dot = svg("circle", { class: "dot", cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: values.length > 40 ? 1 : 2.5 });
      dot.append(svg("title", {}));
      dot.lastChild.textContent = label(points[i]) + ": " + format(v);
      picture.append(dot);
    });
    return el("figure", { class: "chart", "data-chart": chart.field, "data-points": values.length },
      el("h3", {}, el("span", { text: chart.title }), el("span", { class: "value", text: "Σ " + format(total) })),
      picture,
      el("div", { class: "range" }, el("span", { text: "min " + format(min) }), el("span", { text: "max " + format(max) })));
  }

  // A phone turned sideways (or a resized window) may want the other layout.
  window.addEventListener("resize", () => {
    if (view.snapshot && view.shape !== currentLayout()) drawGraph();
  });

  setInterval(renderThrottled, 5000);
  start().catch((failure) => { $("control-message").textContent = failure.message; });
})();
