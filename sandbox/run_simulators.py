#!/usr/bin/env python
"""Serve the PayPal gateway simulators on 127.0.0.1 for the sandbox (development only).

    python sandbox/run_simulators.py            # Payflow :8101, NVP :8102, Payflow UK :8103
    WTP_SIMULATORS=1 make demo                   # in another terminal: the sandbox uses them

The simulators keep everything in memory and never leave the loopback interface.
Test cards: 4111111111111111 (Visa), 5555555555554444 (Mastercard), any future
expiry (MMYY). Amounts up to 1000 approve; 1012 declines; 1126 goes to fraud review.
Express Checkout: 104.86 sends the payer back to PayPal once, 104.17 declines.
"""

import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.simulators.nvp import NvpSimulator  # noqa: E402
from tests.simulators.payflow import PayflowSimulator  # noqa: E402
from tests.simulators.server import LoopbackServer  # noqa: E402

#: Ports and credentials the sandbox settings use when WTP_SIMULATORS=1.
PAYFLOW_PORT = int(os.environ.get("WTP_PAYFLOW_PORT", "8101"))
NVP_PORT = int(os.environ.get("WTP_NVP_PORT", "8102"))
PAYFLOW_UK_PORT = int(os.environ.get("WTP_PAYFLOW_UK_PORT", "8103"))


def main():
    payflow = PayflowSimulator()
    payflow_uk = PayflowSimulator(vendor="simukvendor", partner="PayPalUK", currencies=("GBP",))
    for simulator in (payflow, payflow_uk):
        simulator.deliver_silent_posts = True
    servers = [
        ("Payflow Pro", LoopbackServer(payflow, port=PAYFLOW_PORT).start()),
        ("PayPal NVP / Express Checkout", LoopbackServer(NvpSimulator(), port=NVP_PORT).start()),
        ("Payflow Pro UK (PayPalUK, GBP)", LoopbackServer(payflow_uk, port=PAYFLOW_UK_PORT).start()),
    ]
    for name, server in servers:
        print(f"{name} simulator on {server.url}")
    print("Ctrl+C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *args: stop.set())
    signal.signal(signal.SIGTERM, lambda *args: stop.set())
    stop.wait()
    for _name, server in servers:
        server.stop()


if __name__ == "__main__":
    main()
