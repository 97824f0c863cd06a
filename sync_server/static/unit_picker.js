/* The unit picker (templates/unit_picker.html): a search box over the tree, and, for several units, a
   ticked unit covering its subtree (its units shown ticked and locked: the server stores the unit, which
   covers them). Without this file the tree works as plain checkboxes or radios. */
(function () {
  "use strict";
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase().replace(/\s+/g, " ").trim();
  }
  function rowOf(node) { return node.querySelector(":scope > .up-row"); }
  function boxOf(node) { return rowOf(node).querySelector("input"); }

  function setUp(picker) {
    var tools = picker.querySelector(".up-tools");
    var search = picker.querySelector(".up-search");
    var status = picker.querySelector(".up-status");
    var nodes = Array.prototype.slice.call(picker.querySelectorAll("li.up-node"));
    var multiple = picker.getAttribute("data-multiple") === "1";
    var texts = nodes.map(function (node) { return fold(rowOf(node).textContent); });
    tools.hidden = false;

    function filter() {
      var query = fold(search.value);
      var found = 0;
      if (!query) {
        nodes.forEach(function (node) { node.hidden = false; });
        status.textContent = "";
        return;
      }
      // Document order is parents first: walk it backwards so each unit sees its children's state.
      for (var i = nodes.length - 1; i >= 0; i--) {
        var node = nodes[i];
        var match = texts[i].indexOf(query) !== -1;
        var sub = node.querySelector(":scope > details");
        var childShown = !!(sub && sub.querySelector(":scope > ul > li.up-node:not([hidden])"));
        node.hidden = !(match || childShown);
        if (childShown) { sub.open = true; }
        if (match) { found++; }
      }
      status.textContent = (picker.getAttribute("data-found") || "{n}").replace("{n}", found);
    }

    function cover() {
      // Parents come before their children in document order, so one pass settles the whole tree.
      nodes.forEach(function (node) {
        var box = boxOf(node);
        var parent = node.parentElement.closest("li.up-node");
        var covered = !!parent && boxOf(parent).checked;
        if (covered && !box.disabled) {
          box.setAttribute("data-own", box.checked ? "1" : "0");
          box.checked = true;
          box.disabled = true;
          node.classList.add("covered");
        } else if (!covered && box.disabled) {
          box.checked = box.getAttribute("data-own") === "1";
          box.disabled = false;
          node.classList.remove("covered");
        }
      });
    }

    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }  // Enter in the search box must not send the form
    });
    if (multiple) {
      picker.addEventListener("change", function (event) {
        if (event.target.matches("li.up-node > .up-row input")) { cover(); }
      });
      cover();
    }
  }

  document.querySelectorAll("fieldset.unit-picker").forEach(setUp);
})();
