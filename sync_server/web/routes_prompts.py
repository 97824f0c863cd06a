"""Voice prompts: list, listen, upload per prompt and language, delete (province admin)."""

from __future__ import annotations

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from hailong_core import prompts as catalogue
from sync_server import prompts
from sync_server.web.access import FormError, Pages, PageNotFound, client_ip, viewer, confirmed
from sync_server.web.i18n import request_lang, translator
from sync_server.web.render import done, render

pages = Pages()


def _refused(request: Request, exc: prompts.PromptRefused) -> FormError:
    """The refusal in the reader's language (Vietnamese first)."""
    return FormError(translator(request_lang(request))(f"prompt_err_{exc.reason}", **exc.values))


@pages.get("/admin/prompts", access="province_read")
def prompts_page(request: Request):
    state = request.app.state.hailong
    lang = request_lang(request)
    rows = state.storage.prompts()
    recorded = {(r["name"], r["lang"]) for r in rows}
    return render(request, "prompts.html", rows=rows, names=catalogue.NAMES, langs=catalogue.LANGS,
                  label=lambda key: catalogue.label(key, lang), max_kb=state.settings.prompt_max_kb,
                  generated=[n for n in catalogue.NAMES if (n, catalogue.DEFAULT_LANG) not in recorded])


@pages.get("/admin/prompts/audio", access="province_read")
def prompt_audio(request: Request, name: str = Query(...), lang: str = Query(...)):
    prompt = request.app.state.hailong.storage.prompt(name, lang)
    if prompt is None:
        raise PageNotFound()
    return Response(prompt["content"], media_type="audio/wav", headers={"Cache-Control": "no-store"})


@pages.post("/admin/prompts", access="admin")
async def prompt_upload(request: Request, name: str = Form(...), lang: str = Form(...), file: UploadFile = File(...)):
    state = request.app.state.hailong
    max_kb = state.settings.prompt_max_kb
    try:
        if file.size is not None and file.size > max_kb * 1024:
            raise prompts.PromptRefused("too_big", kb=(file.size + 1023) // 1024, max_kb=max_kb)
        content = await file.read(max_kb * 1024 + 1)  # one byte past the cap is enough to refuse it
        prompts.upload(state.storage, name, lang, content, max_kb=max_kb, user=viewer(request).user, ip=client_ip(request))
    except prompts.PromptRefused as exc:
        raise _refused(request, exc) from None
    return done("/admin/prompts", "ok_prompt_uploaded")


@pages.post("/admin/prompts/delete", access="admin")
def prompt_delete(request: Request, name: str = Form(...), lang: str = Form(...), confirm: str = Form("")):
    confirmed(request, confirm)
    try:
        prompts.delete(request.app.state.hailong.storage, name, lang, user=viewer(request).user, ip=client_ip(request))
    except prompts.PromptRefused as exc:
        raise _refused(request, exc) from None
    return done("/admin/prompts", "ok_prompt_deleted")
