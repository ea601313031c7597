// Ostra's UI: the few behaviours htmx does not give (no framework, no build).
(function () {
  "use strict";
  function highlight(root) {
    if (window.hljs) {
      root.querySelectorAll("pre code.language-yaml").forEach(function (el) {
        if (!el.dataset.highlighted) { window.hljs.highlightElement(el); }
      });
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    highlight(document);
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("#rows input[name=ids]").forEach(function (box) {
          box.checked = all.checked;
        });
      });
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "logs") {
      var follow = document.getElementById("log-follow");
      if (follow && follow.checked) { target.scrollTop = target.scrollHeight; }
    }
  });
})();
