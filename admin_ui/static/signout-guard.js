// On the exam page (also when the check page puts it in place), "Sign out" asks first: the attempt keeps running while the student is
// signed out (issue 20). Signing in again in the same browser resumes it (the device cookie).
"use strict";
(function () {
  function guard() {
    const dialog = document.getElementById("signout-dialog");
    const form = document.querySelector('form[action="/logout"]');
    if (!dialog || !form || form.dataset.guarded) return;
    form.dataset.guarded = "1";
    let confirmed = false;
    form.addEventListener("submit", (e) => {
      if (confirmed) return;
      e.preventDefault();
      dialog.showModal();
    });
    document.getElementById("signout-stay").addEventListener("click", () => dialog.close());
    document.getElementById("signout-go").addEventListener("click", () => {
      confirmed = true;
      dialog.close();
      form.submit();
    });
  }
  guard();
  // The check page puts the exam page (and its header) in place without a navigation: guard it again.
  new MutationObserver(guard).observe(document.body, { childList: true, subtree: true });
})();
