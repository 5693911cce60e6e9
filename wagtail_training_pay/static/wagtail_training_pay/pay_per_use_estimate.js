/* wagtail-training-pay: the pay-per-use estimate in the page editor, recomputed as the host types.
   The same arithmetic as pricing.estimate_session_cost: exact integers in ten-thousandths of the currency,
   rounded half up to the currency's minor unit once, at the end. The server's estimate stays the reference. */
(function () {
  "use strict";
  var SCALE = 4; // rates have four decimal places

  function toUnits(text) {
    // "0.0200" -> 200 (ten-thousandths), exactly, without floating point.
    var match = /^(\d*)(?:\.(\d*))?$/.exec(String(text).trim());
    if (!match) return null;
    var fraction = ((match[2] || "") + "0000").slice(0, SCALE);
    return parseInt(match[1] || "0", 10) * Math.pow(10, SCALE) + parseInt(fraction, 10);
  }

  function count(id) {
    var field = document.getElementById(id);
    if (!field || !/^\d+$/.test(field.value.trim())) return null;
    return parseInt(field.value.trim(), 10);
  }

  function setUp(panel) {
    var data = panel.dataset;
    var personRate = toUnits(data.personMinuteRate);
    var teleconferenceRate = toUnits(data.teleconferenceMinuteRate);
    var minimum = toUnits(data.minimumCharge);
    var digits = parseInt(data.minorDigits, 10);
    var format = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "currency",
      currency: data.currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    var total = panel.querySelector("[data-estimate-total]");
    var breakdown = panel.querySelector("[data-estimate-breakdown]");
    var minimumLine = panel.querySelector("[data-estimate-minimum]");
    var template = panel.querySelector("[data-breakdown-template]").innerHTML.trim();

    function update() {
      var duration = count("id_duration_minutes");
      var computers = count("id_expected_participants");
      var teleconference = count("id_teleconference_participants");
      if (duration === null || computers === null || teleconference === null) {
        total.textContent = "–";
        return;
      }
      var personMinutes = duration * computers;
      var teleconferenceMinutes = duration * teleconference;
      var subtotal = personMinutes * personRate + teleconferenceMinutes * teleconferenceRate;
      var minimumApplies = minimum > subtotal;
      var units = minimumApplies ? minimum : subtotal;
      var step = Math.pow(10, SCALE - digits);
      var minor = Math.floor(units / step) + (units % step >= step / 2 ? 1 : 0); // half up (never negative)
      total.textContent = format.format(minor / Math.pow(10, digits));
      breakdown.textContent = template
        .replace("{person_minutes}", personMinutes)
        .replace("{teleconference_minutes}", teleconferenceMinutes);
      minimumLine.hidden = !minimumApplies;
    }

    ["id_duration_minutes", "id_expected_participants", "id_teleconference_participants"].forEach(function (id) {
      var field = document.getElementById(id);
      if (field) field.addEventListener("input", update);
    });
  }

  document.querySelectorAll("[data-wtp-estimate]").forEach(setUp);
})();
