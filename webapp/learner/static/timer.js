// Counts the exam's remaining time down on the page. The server keeps the real deadline: when
// the count reaches zero the page reloads and the server ends and scores the exam.
(function () {
  "use strict";
  var clock = document.getElementById("time-left");
  if (!clock) { return; }
  var remaining = parseInt(clock.getAttribute("data-seconds"), 10);
  var target = Date.now() + remaining * 1000;
  function show() {
    var left = Math.max(0, Math.round((target - Date.now()) / 1000));
    var minutes = Math.floor(left / 60);
    var seconds = left % 60;
    clock.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
    if (left === 0) {
      window.location.assign(clock.getAttribute("data-expired-url"));
      return;
    }
    window.setTimeout(show, 1000);
  }
  show();
})();
