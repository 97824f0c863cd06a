"""The unit picker's data: the tree in force (province > districts > communes, or today's two levels)
as nested nodes for ``templates/unit_picker.html``, and the server-side check of the codes posted back."""

from __future__ import annotations

from sync_server.web.access import FormError


def unit_tree(units: list[dict], extra: list[dict] = (), selected=()) -> list[dict]:
    """Nodes ``{code, name, level, children, size, open}`` (``size``: the units below it; ``open``: a unit
    in ``selected`` lies below it, so its branch starts unfolded) from ``units`` in tree order; ``extra``
    (e.g. a closed unit a campaign still names) are added as roots so a form keeps them."""
    nodes = {u["code"]: {"code": u["code"], "name": u["name"], "level": u["level"], "children": [], "size": 0} for u in units}
    roots: list[dict] = []
    for u in units:
        parent = nodes.get(u.get("parent_code"))
        (parent["children"] if parent is not None else roots).append(nodes[u["code"]])
    for u in extra:
        if u["code"] not in nodes:
            roots.append({"code": u["code"], "name": u["name"], "level": u["level"], "children": [], "size": 0, "closed": True})

    chosen = set(selected)

    def walk(node: dict) -> bool:
        below = [walk(child) for child in node["children"]]
        node["size"] = sum(1 + child["size"] for child in node["children"])
        node["open"] = any(below)
        return node["open"] or node["code"] in chosen
    for root in roots:
        walk(root)
    return roots


def posted_codes(storage, values: list, t) -> list[str]:
    """The distinct unit codes a picker posted, in order; an unknown code is refused by name (``t``: the
    page's translator)."""
    codes = list(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))
    unknown = [c for c in codes if storage.unit(c) is None]
    if unknown:
        raise FormError(t("err_units_unknown", codes=", ".join(unknown)))
    return codes
