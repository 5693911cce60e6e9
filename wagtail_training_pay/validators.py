from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .currencies import is_valid_currency


def validate_currency_code(value):
    if not is_valid_currency((value or "").upper()):
        raise ValidationError(
            _("“%(value)s” is not an ISO 4217 currency code (for example EUR, USD, GBP)."),
            code="invalid_currency",
            params={"value": value},
        )


def validate_variant_name(value):
    """django-payments' webhook URL only accepts variant names made of ``[a-z-]``."""
    import re

    if not re.fullmatch(r"[a-z-]+", value or ""):
        raise ValidationError(
            _("Payment variant names may only contain lowercase letters and hyphens."),
            code="invalid_variant",
        )
