// Shared by every page: calling the JSON API with the session cookie and the CSRF token,
// and small DOM helpers. No framework, no build step.
"use strict";

const Boardroom = (() => {
  let csrfToken = null;

  /** Calls the API; resolves to {status, body}. Writes carry the session's CSRF token. */
  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let parsed = null;
    const text = await response.text();
    if (text) {
      try { parsed = JSON.parse(text); } catch (_) { parsed = { raw: text }; }
    }
    return { status: response.status, body: parsed };
  }

  /** The logged-in user's profile, or a trip to the login page. */
  async function requireLogin() {
    const { status, body } = await api("GET", "/api/auth/profile");
    if (status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      return new Promise(() => {});
    }
    if (status !== 200) throw new Error("could not load your profile (" + status + ")");
    csrfToken = body.csrf_token;
    return body;
  }

  /** The message of an API error body, fields included. */
  function errorText(body, status) {
    const error = body && body.error;
    if (!error) return "request failed (" + status + ")";
    const fields = error.fields ? Object.entries(error.fields).map(([f, p]) => f + " " + p).join("; ") : "";
    return error.message + (fields ? ": " + fields : "");
  }

  /** Creates an element with attributes and children (strings become text). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  /** Creates an SVG element with attributes. */
  function svg(tag, attributes) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  async function logout() {
    await api("POST", "/api/auth/logout");
    window.location.assign("/login");
  }

  return { api, requireLogin, errorText, el, svg, logout, setCsrf: (token) => { csrfToken = token; } };
})();
