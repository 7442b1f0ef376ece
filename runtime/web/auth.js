// The login and sign-up forms. Sign-up logs the new account in straight away.
"use strict";

(() => {
  const form = document.querySelector("form[data-mode]");
  const mode = form.dataset.mode;
  const errorBox = document.getElementById("form-error");
  const params = new URLSearchParams(location.search);
  const invite = params.get("invite");
  if (invite && form.invite_code) form.invite_code.value = invite;

  function nextPage() {
    const next = params.get("next");
    // Only paths on this server: never an open redirect.
    return next && next.startsWith("/") && !next.startsWith("//") ? next : "/app";
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    errorBox.hidden = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const credentials = { email: form.email.value.trim(), password: form.password.value };
      if (mode === "signup") {
        const request = { ...credentials };
        if (form.invite_code.value.trim()) request.invite_code = form.invite_code.value.trim();
        const created = await Boardroom.api("POST", "/api/auth/signup", request);
        if (created.status !== 201) return showError(Boardroom.errorText(created.body, created.status));
      }
      const login = await Boardroom.api("POST", "/api/auth/login", credentials);
      if (login.status !== 200) return showError(Boardroom.errorText(login.body, login.status));
      window.location.assign(nextPage());
    } catch (failure) {
      showError("the server could not be reached: " + failure.message);
    } finally {
      button.disabled = false;
    }
  });
})();
