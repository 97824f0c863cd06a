// A picker that follows another (select[data-follows="<id of the other select>"]): only its optgroups
// whose data-for is the other's value show; a choice in a hidden group is cleared. Used by the
// enrolment code form (counters follow the site) and the officer forms (sites follow the unit).
// Without JavaScript every group shows and the server refuses a pair that does not belong together.
(function () {
  var pickers = document.querySelectorAll("select[data-follows]");
  Array.prototype.forEach.call(pickers, function (picker) {
    var leader = document.getElementById(picker.getAttribute("data-follows"));
    if (!leader) return;
    function sync() {
      var groups = picker.querySelectorAll("optgroup");
      for (var i = 0; i < groups.length; i++) {
        var own = groups[i].getAttribute("data-for") === leader.value;
        groups[i].hidden = !own; groups[i].disabled = !own;
      }
      var chosen = picker.options[picker.selectedIndex];
      if (chosen && chosen.parentNode.disabled) picker.value = "";
    }
    leader.addEventListener("change", sync); sync();
  });
})();
