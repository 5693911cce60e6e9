/* wagtail-training-pay: small progressive enhancements; every page works without them. */
(function () {
  "use strict";
  // Move the keyboard and screen-reader focus to the error summary, so the learner hears what to fix.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  // The payment step's seat-hold countdown (WCAG 2.2.1 Timing Adjustable): shown every second, said to screen
  // readers only at a few moments (10, 5, 2, 1 minutes left and at the end), a warning before the hold ends with
  // the button that asks the server for more time. Without JavaScript the page still says until when.
  var hold = document.querySelector("[data-hold-seconds]");
  if (hold) {
    var texts = hold.querySelector("[data-hold-texts]").dataset;
    var start = parseInt(hold.getAttribute("data-hold-seconds"), 10);
    var warnAt = parseInt(hold.getAttribute("data-hold-warning-seconds"), 10);
    var end = Date.now() + start * 1000;
    var countdown = hold.querySelector("[data-hold-countdown]");
    var announcer = hold.querySelector("[data-hold-announcer]");
    var warning = hold.querySelector("[data-hold-warning]");
    var ended = hold.querySelector("[data-hold-ended]");
    var extend = hold.querySelector("[data-hold-extend]");
    var marks = [600, 300, 120, 60].filter(function (mark) { return mark < start; });
    var warned = start <= 0;
    var words = function (seconds) {
      if (seconds < 60) {
        return texts.seconds.replace("{seconds}", seconds);
      }
      var minutes = Math.ceil(seconds / 60);
      return minutes === 1 ? texts.minutesOne : texts.minutesOther.replace("{minutes}", minutes);
    };
    var tick = function () {
      var seconds = Math.max(0, Math.round((end - Date.now()) / 1000));
      countdown.hidden = false;
      countdown.textContent = seconds > 0 ? "(" + words(seconds) + ")" : "";
      if (marks.length && seconds <= marks[0] && seconds > 0) {
        while (marks.length && seconds <= marks[0]) {
          marks.shift();
        }
        announcer.textContent = words(seconds);
      }
      if (!warned && seconds <= warnAt && seconds > 0) {
        warned = true;
        var text = extend ? texts.warning : texts.warningLast;
        warning.textContent = text.replace("{minutes}", Math.ceil(warnAt / 60));
      }
      if (seconds === 0) {
        clearInterval(timer);
        warning.textContent = "";
        announcer.textContent = texts.ended;
        ended.hidden = false;
        if (extend) {
          extend.hidden = true;
        }
      }
    };
    var timer = setInterval(tick, 1000);
    tick();
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
