// Tooltips for [data-t] and sorting for table.sort: the page's whole script, no dependencies.
(function () {
  "use strict";
  var tip = document.createElement("div");
  tip.id = "tip";
  document.body.appendChild(tip);
  document.addEventListener("mouseover", function (e) {
    var t = e.target.closest ? e.target.closest("[data-t]") : null;
    if (!t) { tip.style.display = "none"; return; }
    tip.textContent = t.getAttribute("data-t");
    tip.style.display = "block";
  });
  document.addEventListener("mousemove", function (e) {
    tip.style.left = (e.pageX + 12) + "px";
    tip.style.top = (e.pageY + 12) + "px";
  });
  // A cell's sort key: its text, or for numeric columns its number (a dash sorts last).
  function key(cell, numeric) {
    var text = cell ? cell.textContent : "";
    if (!numeric) { return text; }
    var v = parseFloat(text.replace(/[^0-9.\-]/g, ""));
    return isNaN(v) ? null : v;
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sort"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      th.addEventListener("click", function () {
        var numeric = th.classList.contains("n");
        var was = th.getAttribute("aria-sort");
        var ascending = numeric ? was === "descending" : was !== "ascending";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var keyed = rows.map(function (row, n) { return [key(row.cells[i], numeric), n, row]; });
        keyed.sort(function (a, b) {
          if (a[0] === null || b[0] === null) {
            return a[0] === b[0] ? a[1] - b[1] : (a[0] === null ? 1 : -1);
          }
          var c = numeric ? a[0] - b[0] : a[0].localeCompare(b[0]);
          return (ascending ? c : -c) || a[1] - b[1];
        });
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var fragment = document.createDocumentFragment();
        keyed.forEach(function (k) { fragment.appendChild(k[2]); });
        body.appendChild(fragment);
      });
    });
  });
  document.body.setAttribute("data-ready", "1");
})();
