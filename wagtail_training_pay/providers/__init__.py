"""django-payments providers for PayPal's classic gateways.

django-payments 4.x has no Payflow Pro and no classic (NVP) Express Checkout
provider; these work in any django-payments project:

* ``wagtail_training_pay.providers.payflow.PayflowProProvider``: cards (credit and
  debit) through the Payflow Gateway, on PayPal's hosted page (default) or on the
  site's own card form;
* ``wagtail_training_pay.providers.payflow.WebsitePaymentsProUKProvider``: the same
  with ``PARTNER=PayPalUK`` and pounds sterling;
* ``wagtail_training_pay.providers.express_checkout.ExpressCheckoutProvider``: PayPal
  Express Checkout through the classic NVP API.

Import them only by their dotted path in ``PAYMENT_VARIANTS``: django-payments
imports provider classes lazily.
"""
