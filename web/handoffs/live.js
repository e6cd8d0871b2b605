// The live view: fetch the paused page's frames one after another and show
// each; without this script the picture is the frame when the page loaded.
(function () {
  "use strict";
  var img = document.getElementById("live-frame");
  if (!img) return;
  var frames = img.getAttribute("data-frames");
  var seq = 0;
  function show(blob) {
    var r = new FileReader();
    r.onload = function () { img.src = r.result; };
    r.readAsDataURL(blob);
  }
  function next() {
    fetch(frames + "?after=" + seq, { credentials: "same-origin" }).then(function (resp) {
      if (resp.status === 204) return next();
      if (!resp.ok) return; // closed: answered, handed back or expired
      seq = parseInt(resp.headers.get("X-Frame-Seq") || "0", 10);
      return resp.blob().then(function (b) { show(b); next(); });
    }).catch(function () { setTimeout(next, 2000); });
  }
  next();
})();
