// The admin pages: platform analytics and system health, private mode and invites,
// users' roles and tiers, and every business's swarm (pause, resume, stop, throttle). Changes show live on the owner's
// dashboard, whose stream carries the events they cause.
"use strict";

(() => {
  const { api, el, errorText } = Boardroom;
  const $ = (id) => document.getElementById(id);
  let me = null;
  const emails = new Map(); // user id -> e-mail, to name businesses' owners

  function say(answer, done) {
    $("admin-message").textContent = answer.status < 300 ? done : errorText(answer.body, answer.status);
    return answer.status < 300;
  }

  async function start() {
    const profile = await Boardroom.requireLogin();
    me = profile.user;
    $("user-email").textContent = me.email;
    $("logout").addEventListener("click", Boardroom.logout);
    if (profile.role !== "admin") {
      $("admin-message").textContent = "this page needs an admin account";
      return;
    }
    $("private-on").addEventListener("click", () => setPrivate(true));
    $("private-off").addEventListener("click", () => setPrivate(false));
    $("invite").addEventListener("click", invite);
    await Promise.all([loadPrivate(), loadUsers(), loadPlatform()]);
    await loadBusinesses();
    setInterval(loadBusinesses, 5000);
    setInterval(loadPlatform, 15000);
  }

  // GET /admin/analytics: the platform at a glance and the system's health.
  async function loadPlatform() {
    const answer = await api("GET", "/admin/analytics");
    if (answer.status !== 200) {
      $("platform").replaceChildren(el("dt", { text: "analytics" }), el("dd", { text: errorText(answer.body, answer.status) }));
      return;
    }
    const a = answer.body;
    const tiers = a.users.by_tier;
    const system = a.system;
    const facts = [
      ["Accounts", a.users.total + " (" + a.users.admins + " admin · free " + tiers.free + " · pro " + tiers.pro + " · enterprise " + tiers.enterprise + ")"],
      ["New / active, 30 days", a.users.new_last_30_days + " / " + a.users.active_last_30_days],
      ["Businesses", a.businesses.total + " (" + a.businesses.active + " active · " + a.businesses.swarms_running + " swarms running)"],
      ["Products · stores · campaigns", a.activity.products + " · " + a.activity.stores + " · " + a.activity.campaigns],
      ["Events, 24 h / 30 days", a.activity.events_last_24_hours + " / " + a.activity.events_last_30_days],
      ["API calls, " + a.usage.period, String(a.usage.api_calls_this_month)],
      ["LLM tokens, 24 h / 30 days", a.usage.llm_tokens_last_24_hours + " / " + a.usage.llm_tokens_last_30_days],
      ["System", system.status + " · database " + system.database.backend + " " + system.database.status + " · Redis " + system.redis.status + " · LLM " + system.llm.backend],
    ];
    $("platform").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })]));
  }

  async function loadPrivate() {
    const answer = await api("GET", "/admin/toggle-private");
    if (answer.status === 200) showPrivate(answer.body.private_mode);
  }

  function showPrivate(enabled) {
    $("private-state").textContent = enabled ? "sign-up: invite only" : "sign-up: open to anyone";
  }

  async function setPrivate(enabled) {
    const answer = await api("POST", "/admin/toggle-private", { enabled });
    if (say(answer, enabled ? "sign-up now needs an invite" : "sign-up is open")) showPrivate(answer.body.private_mode);
  }

  async function invite() {
    const request = { uses: Number($("invite-uses").value), expires_hours: Number($("invite-hours").value) };
    const answer = await api("POST", "/admin/generate-invite", request);
    if (!say(answer, "invite generated")) return;
    $("invite-result").replaceChildren("Code ", el("code", { text: answer.body.code }), " · link ",
      el("code", { text: answer.body.signup_url }), " · " + answer.body.uses + " use(s), expires " + new Date(answer.body.expires_at).toLocaleString());
  }

  function choice(values, current, label, onChange) {
    const select = el("select", { "aria-label": label }, ...values.map((v) => el("option", { value: v, text: v })));
    select.value = current;
    select.addEventListener("change", () => onChange(select.value, select));
    return select;
  }

  async function loadUsers() {
    const answer = await api("GET", "/admin/users?limit=100");
    if (answer.status !== 200) return say(answer, "");
    for (const user of answer.body.items) emails.set(user.id, user.email);
    $("users").replaceChildren(...answer.body.items.map((user) => {
      const role = choice(["user", "admin"], user.role, "Role of " + user.email, async (value) => {
        say(await api("PUT", "/admin/users/" + user.id + "/role", { role: value }), user.email + " is now " + value);
        loadUsers();
      });
      role.disabled = user.id === me.id;
      const tier = choice(["free", "pro", "enterprise"], user.tier, "Tier of " + user.email, async (value) => {
        say(await api("PUT", "/admin/users/" + user.id + "/tier", { tier: value }), user.email + " is now on " + value);
        loadBusinesses();
      });
      return el("tr", {}, el("td", { text: user.email }), el("td", {}, role), el("td", {}, tier),
        el("td", { text: new Date(user.created_at).toLocaleDateString() }));
    }));
  }

  async function loadBusinesses() {
    const answer = await api("GET", "/admin/businesses?limit=100");
    if (answer.status !== 200) return;
    $("businesses").replaceChildren(...answer.body.items.map(businessRow));
  }

  function businessRow(business) {
    const id = business.business_id;
    const control = (action) => {
      const button = el("button", { type: "button", text: action, class: action === "stop" ? "danger" : null, "data-action": action });
      button.addEventListener("click", async () => {
        say(await api("POST", "/admin/businesses/" + id + "/swarm", { action }), business.name + ": " + action);
        loadBusinesses();
      });
      return button;
    };
    const limits = business.throttle ? business.throttle.limits : null;
    const mpm = el("input", { type: "number", min: "1", placeholder: "per min", "aria-label": "Messages per minute for " + business.name, value: business.override ? business.override.messages_per_minute : "" });
    mpm.style.width = "6rem";
    const setThrottle = el("button", { type: "button", text: "Set", "data-action": "set-throttle" });
    setThrottle.addEventListener("click", async () => {
      const value = mpm.value === "" ? null : Number(mpm.value);
      say(await api("PUT", "/admin/businesses/" + id + "/throttle", { messages_per_minute: value }), business.name + ": throttle set");
      loadBusinesses();
    });
    const clear = el("button", { type: "button", text: "Clear", "data-action": "clear-throttle" });
    clear.addEventListener("click", async () => {
      say(await api("DELETE", "/admin/businesses/" + id + "/throttle"), business.name + ": back to its tier's throttle");
      loadBusinesses();
    });
    const autopilot = business.autopilot
      ? (business.autopilot.paused ? "paused" : "running") + " · " + business.autopilot.cycles_run + (business.autopilot.cycles_run === 1 ? " cycle" : " cycles")
      : (business.autopilot_setting ? "on" : "off");
    const throttleText = limits ? (limits.messages_per_minute ?? "unlimited") + "/min" + (business.override ? " (override)" : "") : "—";
    return el("tr", { "data-business": id },
      el("td", { text: business.name + " #" + id }),
      el("td", { text: emails.get(business.owner_id) || "user #" + business.owner_id }),
      el("td", { text: business.tier }),
      el("td", { text: business.status }),
      el("td", { text: autopilot }),
      el("td", {}, el("div", { text: throttleText }), el("div", { class: "row" }, mpm, setThrottle, clear)),
      el("td", {}, el("div", { class: "row" }, control("pause"), control("resume"), control("stop"))));
  }

  start().catch((failure) => { $("admin-message").textContent = failure.message; });
})();
