"""Integration Hub settings.

Everything comes from the environment with an embedded default (Saleor's shape): with no variable
set the console runs on SQLite files under ``var/``, django-q2's ORM broker and a SQLite channel
layer, so ``make run`` needs no other server. ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis. Every variable is listed in ``.env.example`` and the README.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from integration_hub.absolute_urls import user_url
from integration_hub.env import get_bool, get_int, get_list, read_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded default keeps its state: databases, generated keys.
DATA_DIR = Path(os.environ.get("HUB_DATA_DIR", BASE_DIR / "var")).resolve()
# Separates the queues, channel groups and cache keys of several hubs sharing one Redis.
NAMESPACE = os.environ.get("HUB_NAMESPACE", "hub")

DEBUG = get_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or read_or_create_secret(
    DATA_DIR / "django-secret.key", lambda: secrets.token_urlsafe(50)
)
ALLOWED_HOSTS = get_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = get_list("CSRF_TRUSTED_ORIGINS")

# Fernet keys for secrets at rest, newest first: the first encrypts, all decrypt (rotation).
HUB_ENCRYPTION_KEYS = get_list("HUB_ENCRYPTION_KEYS") or [
    read_or_create_secret(DATA_DIR / "encryption.key", lambda: Fernet.generate_key().decode())
]
# The key of the keyed hashes (lookup keys on ID links and failed records, the GDPR suppression list):
# apart from HUB_ENCRYPTION_KEYS, so rotating those breaks no hash. Changing it makes every stored hash
# unfindable: keep it (a file in the data folder by default) with the backups.
HUB_LOOKUP_KEY = os.environ.get("HUB_LOOKUP_KEY") or read_or_create_secret(
    DATA_DIR / "lookup.key", lambda: secrets.token_urlsafe(50)
)
# The only local folder tree the Files connector may read and write (systems name sub-folders of it).
HUB_FILES_ROOT = Path(os.environ.get("HUB_FILES_ROOT", DATA_DIR / "files")).resolve()
# Hosts the hub may open outgoing connections to; empty means any. Tests force loopback.
HUB_OUTBOUND_ALLOWED_HOSTS = get_list("HUB_OUTBOUND_ALLOWED_HOSTS")
# Seconds a timestamped webhook signature (t=…,v1=…) stays valid: older or future deliveries are replays.
HUB_WEBHOOK_TOLERANCE = get_int("HUB_WEBHOOK_TOLERANCE", 300)
# The console's public address (https://hub.example.com): makes links in alert emails and webhooks absolute.
HUB_BASE_URL = os.environ.get("HUB_BASE_URL", "").rstrip("/")
# Seconds an alert webhook may take to answer (monitoring/alerts.py).
HUB_ALERT_WEBHOOK_TIMEOUT = get_int("HUB_ALERT_WEBHOOK_TIMEOUT", 5)
# Failure policy (flows/breaker.py, flows/policy.py): a system's circuit opens after this many failed
# requests in a row (0: no breaker) and stays open this many seconds before one probe request; a flow
# is paused after this many failed runs in a row (0: never).
HUB_BREAKER_THRESHOLD = get_int("HUB_BREAKER_THRESHOLD", 5)
HUB_BREAKER_COOLDOWN = get_int("HUB_BREAKER_COOLDOWN", 60)
HUB_AUTO_PAUSE_AFTER = get_int("HUB_AUTO_PAUSE_AFTER", 3)
# The bearer token Prometheus sends to /metrics; empty: /metrics answers 404 (metrics are off).
HUB_METRICS_TOKEN = os.environ.get("HUB_METRICS_TOKEN", "").strip()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "channels",
    "django_q",
    "rest_framework",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "integration_hub",
    "flows",
    "monitoring",
    "gdpr",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "integration_hub.middleware.RequestContextMiddleware",
    "integration_hub.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "integration_hub.urls"
ASGI_APPLICATION = "integration_hub.asgi.application"
WSGI_APPLICATION = "integration_hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "integration_hub.context_processors.console",
            ],
        },
    },
]
FORM_RENDERER = "integration_hub.forms.ConsoleFormRenderer"

# --- Database -------------------------------------------------------------------------------------
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'hub.sqlite3'}",
        conn_max_age=get_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
_SQLITE_OPTIONS = {
    # Web and workers share the file: WAL lets readers run beside one writer, the busy timeout makes
    # a writer wait instead of failing, IMMEDIATE takes the write lock up front (no upgrade deadlock).
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
        "PRAGMA foreign_keys=ON;"
    ),
}


def _sqlite_test_name(path: str) -> str:
    # Tests that fork a live ASGI server or a worker need a file, not an in-memory database.
    p = Path(path)
    return str(p.with_name(f"test-{p.name}"))


if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = _SQLITE_OPTIONS
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": _sqlite_test_name(DATABASES["default"]["NAME"])}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, tasks, channel layer, cache ------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")

Q_CLUSTER = {
    "name": NAMESPACE,
    "workers": get_int("HUB_WORKERS", 2),
    "timeout": get_int("HUB_TASK_TIMEOUT", 1800),
    "retry": get_int("HUB_TASK_TIMEOUT", 1800) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "label": _("Tasks"),
    "sync": get_bool("HUB_TASKS_SYNC", False),
    "poll": 0.1,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, which cuts the layer's blocking
            # 5 s BZPOPMIN and closed every websocket every few seconds (django/channels_redis#422).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": f"{NAMESPACE}:asgi",
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": NAMESPACE,
        }
    }
else:
    # Channels' in-memory layer never carries a worker's events to the web process; channels-lite
    # keeps messages in a SQLite file of its own that every process polls.
    _channels_db = os.environ.get("HUB_CHANNELS_DB", str(DATA_DIR / "channels.sqlite3"))
    DATABASES["channels"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _channels_db,
        "OPTIONS": _SQLITE_OPTIONS,
        "TEST": {"NAME": _sqlite_test_name(_channels_db)},
    }
    INSTALLED_APPS.append("channels_lite")
    DATABASE_ROUTERS = ["channels_lite.router.ChannelsRouter"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels", "polling_interval": 0.05, "expiry": 60},
        }
    }
    # A file cache is shared by the web process and the workers (django-q2 keeps its cluster
    # statistics in the cache, and the status page reads them from another process).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": os.environ.get("HUB_CACHE_DIR", str(DATA_DIR / "cache")),
        }
    }

# --- Auth -------------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user, anonymous visitors get nothing
GUARDIAN_RAISE_403 = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ABSOLUTE_URL_OVERRIDES = {"auth.user": user_url}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Login attempts: after this many failures for one user name or one address within the window
# (seconds), logins are refused until the window has passed.
# A running sync whose worker has not beaten for this many seconds is taken as dead (interrupted).
HUB_RUN_STALE_AFTER = get_int("HUB_RUN_STALE_AFTER", 120)
HUB_LOGIN_MAX_FAILURES = get_int("HUB_LOGIN_MAX_FAILURES", 10)
HUB_LOGIN_FAILURE_WINDOW = get_int("HUB_LOGIN_FAILURE_WINDOW", 15 * 60)
PASSWORD_RESET_TIMEOUT = get_int("HUB_PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
SESSION_COOKIE_AGE = get_int("HUB_SESSION_AGE", 12 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "integration_hub.views.auth.csrf_failure"

# --- HTTPS and security headers ---------------------------------------------------------------------
# Behind TLS in production (HUB_HTTPS=1): secure cookies, HSTS, redirect to HTTPS.
HUB_HTTPS = get_bool("HUB_HTTPS", False)
SECURE_SSL_REDIRECT = HUB_HTTPS
SESSION_COOKIE_SECURE = HUB_HTTPS
CSRF_COOKIE_SECURE = HUB_HTTPS
SECURE_HSTS_SECONDS = get_int("HUB_HSTS_SECONDS", 31536000) if HUB_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HUB_HTTPS
SECURE_HSTS_PRELOAD = get_bool("HUB_HSTS_PRELOAD", HUB_HTTPS)
# Behind a reverse proxy that sets X-Forwarded-Proto and appends the client to X-Forwarded-For.
HUB_BEHIND_PROXY = get_bool("HUB_BEHIND_PROXY", False)
if HUB_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- I18N -------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("HUB_TIME_ZONE", "UTC")
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("HUB_STATIC_ROOT", DATA_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# The embedded default serves straight from the source folders; production runs collectstatic and
# sets HUB_STATIC_MANIFEST=1 for hashed, compressed, cache-forever files.
WHITENOISE_USE_FINDERS = not get_bool("HUB_STATIC_MANIFEST", False)
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS  # edited CSS/JS is served at once, not a stale length
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if get_bool("HUB_STATIC_MANIFEST", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email ------------------------------------------------------------------------------------------
# Django 6.1 mailers. EMAIL_URL: smtp://user:password@host:port, smtp+tls://… or smtp+ssl://…;
# without it mail is printed on the console (the demo: password-reset and invitation links show there).
if os.environ.get("EMAIL_URL"):
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(os.environ["EMAIL_URL"])
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email.hostname or "localhost",
                "port": _email.port or 25,
                "username": unquote(_email.username or ""),
                "password": unquote(_email.password or ""),
                "use_tls": _email.scheme == "smtp+tls",
                "use_ssl": _email.scheme == "smtp+ssl",
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
        }
    }
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Integration Hub <hub@localhost>")

# --- API --------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request is then answered 401 with "WWW-Authenticate: Token".
        "integration_hub.api.authentication.TokenAuthentication",
        "integration_hub.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["integration_hub.api.permissions.ObjectPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["integration_hub.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "integration_hub.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "integration_hub.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integration Hub API",
    "DESCRIPTION": _(
        "Every console capability as a JSON API. Authenticate with your browser session or with "
        "`Authorization: Token <key>` (create keys under *API tokens* in the user menu)."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": "flows.choices.HealthStatus",
        "LegalBasisEnum": "gdpr.models.choices.LegalBasis",  # an entry's and a purpose's legal basis
        "RequestChannelEnum": "gdpr.models.choices.RequestChannel",  # vs. an alert rule's channels
        "RequestKindEnum": "gdpr.models.choices.RequestKind",
    },
}

# --- Logging ----------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "integration_hub.log.RequestContextFilter"},
        "secret_paths": {"()": "integration_hub.log.SecretPathFilter"},
        "redact": {"()": "integration_hub.log.RedactingFilter"},
    },
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "integration_hub.log.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # HUB_LOG_FORMAT=json: one JSON object per line (run, flow and system ids included).
            "formatter": "json" if os.environ.get("HUB_LOG_FORMAT", "text").lower() == "json" else "console",
            "filters": ["request_context", "secret_paths", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("HUB_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django-q": {"level": "WARNING"},
        # httpx logs every URL in full at INFO, query-string secrets included; flows.http logs
        # each request with secrets and personal values redacted instead.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # The ASGI server's access log names every path; the webhook token is masked in it.
        "uvicorn.access": {"handlers": ["console"], "filters": ["secret_paths"], "propagate": False},
    },
}
