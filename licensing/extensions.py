"""Flask extensions, created unbound and initialised in `create_app`."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

limiter = Limiter(key_func=get_remote_address)
csrf = CSRFProtect()
# Page sessions; the accounts package registers the user loader.
login_manager = LoginManager()
