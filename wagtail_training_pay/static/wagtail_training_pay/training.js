/* wagtail-training-pay: small progressive enhancements; every page works without them. */
(function () {
  "use strict";
  // Move the keyboard and screen-reader focus to the error summary, so the learner hears what to fix.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  // Remember the browser's time zone so the next pages show times in it (ViewerTimezoneMiddleware).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var cookie = "wagtail_training_pay_tz=";
    if (zone && document.cookie.indexOf(cookie + encodeURIComponent(zone)) === -1) {
      document.cookie = cookie + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) {
    /* no Intl time zone support: times stay in the site's zone, which the page names */
  }
})();
