// Officer forms: show only the chosen unit's sites in the site picker (#o-site, optgroups with data-unit).
// Without JavaScript every listed site shows and the server refuses a site of another unit.
(function () {
  var unit = document.getElementById("o-unit"), site = document.getElementById("o-site");
  if (!unit || !site) return;
  function sync() {
    var groups = site.querySelectorAll("optgroup");
    for (var i = 0; i < groups.length; i++) {
      var own = groups[i].getAttribute("data-unit") === unit.value;
      groups[i].hidden = !own; groups[i].disabled = !own;
    }
    var chosen = site.options[site.selectedIndex];
    if (chosen && chosen.parentNode.disabled) site.value = "";
  }
  unit.addEventListener("change", sync); sync();
})();
