"""Write a local .env for `make run` (development defaults with freshly generated keys)."""

import secrets
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
target = ROOT / ".env"
if not target.exists():
    text = (ROOT / ".env.example").read_text()
    text = text.replace("SECRET_KEY=change-me", f"SECRET_KEY={secrets.token_urlsafe(48)}")
    text = text.replace(
        "LOADBAY_ENCRYPTION_KEY=change-me",
        f"LOADBAY_ENCRYPTION_KEY={Fernet.generate_key().decode()}",
    )
    text = text.replace(
        "LOADBAY_METRICS_TOKEN=\n", f"LOADBAY_METRICS_TOKEN={secrets.token_urlsafe(32)}\n"
    )
    text = text.replace("DEBUG=false", "DEBUG=true")
    text = text.replace("LOADBAY_DEMO=false", "LOADBAY_DEMO=true")
    # Loadbay's own credentials for AssumeRole in the demo (the local demo endpoint accepts any).
    text = text.replace("# AWS_ACCESS_KEY_ID=\n", "AWS_ACCESS_KEY_ID=AKIADEMOPLATFORM0001\n")
    text = text.replace(
        "# AWS_SECRET_ACCESS_KEY=\n", "AWS_SECRET_ACCESS_KEY=demo-platform-secret-not-real-000000\n"
    )
    target.write_text(text)
    target.chmod(0o600)
    print(f"Wrote {target} with new keys (keep it private; it is git-ignored).")
