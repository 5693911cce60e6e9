"""Send a browser that prefers another language than the default to that language's pages."""

from django.http import HttpResponseRedirect
from django.urls import translate_url
from django.utils import translation


class PreferredLanguageMiddleware:
    """With ``i18n_patterns(prefix_default_language=False)`` an unprefixed URL is always the default language,
    whatever the browser asks for. A GET of such a URL by a browser whose language cookie (set by the language
    switcher) or, without one, ``Accept-Language`` prefers another language is redirected to that language's URL.
    URLs outside ``i18n_patterns`` are left alone (``translate_url`` returns them unchanged)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD") and not translation.get_language_from_path(request.path_info):
            preferred = translation.get_language_from_request(request, check_path=False)
            if preferred and translation.get_supported_language_variant(preferred) != translation.get_language():
                path = request.get_full_path()
                translated = translate_url(path, preferred)
                if translated != path:
                    return HttpResponseRedirect(translated)
        return self.get_response(request)
