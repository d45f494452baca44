/* LeadSync's live progress bars: every element with data-progress-url polls that small JSON view
   (the admin's progress.json of a run, of an integration's latest run, or of a connection's discovery) and shows what it says,
   without reloading the page. No library, no CDN: the admin works offline.
   A run's bar stops polling once its run has finished; an integration's (data-follow) goes on, so a
   run started later shows up too. */
(function () {
  "use strict";

  function render(box, data) {
    var bar = box.querySelector("progress");
    var percent = box.querySelector(".ls-progress-percent");
    var text = box.querySelector(".ls-progress-text");
    var link = box.querySelector(".ls-progress-run");
    box.dataset.state = data.state || "none";
    if (data.run === null || data.run === undefined) {
      bar.removeAttribute("value");
      bar.hidden = true;
      percent.textContent = "";
      text.textContent = data.stage || "no run yet";
      return;
    }
    bar.hidden = false;
    if (data.percent === null) {
      bar.removeAttribute("value");  // indeterminate: the total is not known yet
      percent.textContent = "";
    } else {
      bar.value = data.percent;
      percent.textContent = data.percent + " %";
    }
    if (data.text !== undefined) {  // a discovery: its status says it all
      text.textContent = data.text;
      return;
    }
    text.textContent = data.stage + ": " + data.done + (data.total === null ? "" : "/" + data.total) +
      " leads (" + data.created + " created, " + data.updated + " updated, " + data.failed + " failed)";
    if (link && data.run_url) {
      link.href = data.run_url;
      link.textContent = "run " + data.run;
      link.hidden = false;
    }
  }

  function poll(box) {
    var url = box.dataset.progressUrl;
    var every = parseInt(box.dataset.interval || "1000", 10);
    var follow = box.dataset.follow === "1";
    function tick() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          render(box, data);
          box.dataset.polls = String(parseInt(box.dataset.polls || "0", 10) + 1);
          if (!data.finished || follow) { window.setTimeout(tick, every); }
        })
        .catch(function () { window.setTimeout(tick, every * 5); });  // a server restarting: try again later
    }
    tick();
  }

  function start() {
    var boxes = document.querySelectorAll("[data-progress-url]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].dataset.state !== "succeeded" && boxes[i].dataset.state !== "failed" ||
          boxes[i].dataset.follow === "1") {
        poll(boxes[i]);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
