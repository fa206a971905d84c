"""Settings: command-line option > environment > config.toml / secrets.toml > defaults.

Every setting has a dotted key (``perplexity.base_url``), an environment name derived from it
(``MIA_PERPLEXITY_BASE_URL``) plus well-known aliases, and a recorded source so that
``mia config show`` can say where each value came from.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from mia import paths
from mia.errors import ConfigError, UsageError
from mia.files import write_atomic

DEFAULT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ALL_SOURCES = ("web", "pubmed", "europepmc", "trials")


@dataclass(frozen=True)
class Spec:
    """One setting: its key, environment names, default and whether it is secret."""

    key: str
    default: Any
    help: str
    secret: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def env_names(self) -> tuple[str, ...]:
        return ("MIA_" + self.key.upper().replace(".", "_").replace("-", "_"), *self.aliases)


SPECS: tuple[Spec, ...] = (
    Spec("home", None, "Where mia keeps its registry, workspace and logs (default: the user data dir)."),
    Spec("cloudflare.account_id", None, "Cloudflare account id (Workers AI, Workflows, R2).",
         aliases=("CLOUDFLARE_ACCOUNT_ID",)),
    Spec("cloudflare.api_token", None, "Cloudflare API token (Workers AI Read+Edit; Workers Scripts Edit).",
         secret=True, aliases=("CLOUDFLARE_API_TOKEN",)),
    Spec("cloudflare.api_base_url", "https://api.cloudflare.com/client/v4",
         "Base URL of Workers AI and the Cloudflare REST API."),
    Spec("llm.provider", "workers-ai", "workers-ai (native /ai/run) or openai (any /chat/completions server)."),
    Spec("llm.model", DEFAULT_MODEL, "Model id used for planning, extraction and synthesis."),
    Spec("llm.base_url", None, "Base URL of an OpenAI-compatible server when llm.provider = openai."),
    Spec("llm.api_key", None, "API key for llm.provider = openai (optional for local servers).", secret=True),
    Spec("llm.max_tokens", 2048, "max_tokens sent with every LLM call (Workers AI defaults to 256)."),
    Spec("llm.temperature", 0.2, "Sampling temperature."),
    Spec("llm.timeout", 120.0, "Seconds to wait for one LLM response."),
    Spec("llm.context_tokens", 0, "The model's context window in tokens (0: from the model's catalog or server)."),
    Spec("llm.concurrency", 0, "LLM requests in flight at once (0: the server's slots; Workers AI 32, a local "
         "server 1 unless it says more)."),
    Spec("llm.json_mode", "auto", "Strongest JSON mode to try: auto (from the server), json_schema, json_object "
         "or text (the schema in the prompt)."),
    Spec("llm.stream_tools", "auto", "Stream chat rounds that offer tools: auto (always for OpenAI-shape models; for "
         "legacy Workers AI models only after tool results), always, or never."),
    Spec("perplexity.api_key", None, "Perplexity API key (web search).", secret=True,
         aliases=("PERPLEXITY_API_KEY",)),
    Spec("perplexity.base_url", "https://api.perplexity.ai", "Base URL of the Perplexity API."),
    Spec("pubmed.base_url", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils", "Base URL of NCBI E-utilities."),
    Spec("pubmed.api_key", None, "NCBI API key (raises the rate limit from 3 to 10 requests/s).", secret=True,
         aliases=("NCBI_API_KEY",)),
    Spec("pubmed.email", None, "Contact e-mail sent to NCBI with each request, as NCBI asks."),
    Spec("europepmc.base_url", "https://www.ebi.ac.uk/europepmc/webservices/rest", "Base URL of Europe PMC."),
    Spec("clinicaltrials.base_url", "https://clinicaltrials.gov/api/v2", "Base URL of ClinicalTrials.gov v2."),
    Spec("r2.endpoint_url", None, "S3 endpoint of R2 (default: derived from the account and jurisdiction)."),
    Spec("r2.bucket", None, "R2 bucket that mirrors the workspace."),
    Spec("r2.access_key_id", None, "R2 S3 access key id.", secret=True),
    Spec("r2.secret_access_key", None, "R2 S3 secret access key.", secret=True),
    Spec("r2.jurisdiction", None, "R2 jurisdiction (eu, fedramp or us), if the bucket has one."),
    Spec("r2.prefix", "", "Key prefix under which the workspace is mirrored."),
    Spec("r2.addressing_style", "path", "S3 addressing style: path or virtual."),
    Spec("sync.auto", False, "Push an agent's folder to R2 after each run."),
    Spec("research.budget_usd", 0.50, "Default spending cap of one research run, in US dollars."),
    Spec("research.depth", "standard", "Default depth: quick, standard or deep."),
    Spec("research.sources", ",".join(ALL_SOURCES), "Default sources (comma-separated)."),
    Spec("research.concurrency", 32, "How many searches or extractions run at once (each service keeps its own "
         "rate limit)."),
    Spec("research.review_plans", False, "In mia chat, show a new research's plan as a card to accept, edit or "
         "cancel before anything is searched (scripts and mia ask never wait)."),
    Spec("research.reranker", "", "A Workers AI reranker model that orders each sub-question's sources after "
         "BM25, e.g. @cf/baai/bge-reranker-base (empty: BM25 alone)."),
    Spec("search.connect_timeout", 5.0, "Seconds a literature or web search waits to connect."),
    Spec("search.read_timeout", 20.0, "Seconds a literature or web search waits for each read of the answer."),
    Spec("search.source_timeout", 60.0, "Seconds one source may take in total during a run (retries included); "
         "a source that does not answer in time is skipped with a notice."),
    Spec("mcp.servers", [], "MCP servers whose tools the Interaction Agent may use: a list of tables with name, "
         "command and args (or url), env, and trusted (true: its tools run without approval)."),
    Spec("files.max_mb", 50.0, "Largest local document (PDF, DOCX, Markdown, text) mia reads, in MB."),
    Spec("prices.usd_per_1k_neurons", 0.011, "Workers AI price per 1,000 neurons."),
    Spec("prices.llm_input_usd_per_m", None, "Override: LLM input price per million tokens."),
    Spec("prices.llm_output_usd_per_m", None, "Override: LLM output price per million tokens."),
    Spec("prices.perplexity_search_usd", 0.005, "Price of one Perplexity Search API request."),
    Spec("notify.command", None, "Command run with the notification text as its last argument when an agent "
         "has news (e.g. notify-send mia)."),
    Spec("mail.transport", "smtp", "How approved mail is sent: smtp or resend."),
    Spec("mail.from_address", None, "The From address of outreach mail, e.g. Dr Ada Lovelace <ada@example.org>."),
    Spec("smtp.host", None, "SMTP server host."),
    Spec("smtp.port", 587, "SMTP server port."),
    Spec("smtp.security", "starttls", "starttls, tls or none."),
    Spec("smtp.user", None, "SMTP user name (if the server needs one)."),
    Spec("smtp.password", None, "SMTP password.", secret=True, aliases=("SMTP_PASSWORD",)),
    Spec("resend.api_key", None, "Resend API key (mail.transport = resend).", secret=True,
         aliases=("RESEND_API_KEY",)),
    Spec("resend.base_url", "https://api.resend.com", "Base URL of the Resend API."),
    Spec("imap.host", None, "IMAP server host where replies arrive."),
    Spec("imap.port", 993, "IMAP server port."),
    Spec("imap.security", "tls", "tls, starttls or none."),
    Spec("imap.user", None, "IMAP user name."),
    Spec("imap.password", None, "IMAP password.", secret=True, aliases=("IMAP_PASSWORD",)),
    Spec("imap.mailbox", "INBOX", "Mailbox that replies arrive in."),
    Spec("triggers.grace_minutes", 0, "How late a missed slot may still run (0: 1 h for sub-daily schedules, "
         "12 h for daily or rarer)."),
)
SPEC_BY_KEY = {spec.key: spec for spec in SPECS}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CloudflareSettings(_Section):
    account_id: str | None = None
    api_token: SecretStr | None = None
    api_base_url: str


class LLMSettings(_Section):
    provider: Literal["workers-ai", "openai"]
    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key: SecretStr | None = None
    max_tokens: int = Field(gt=0, le=131072)
    temperature: float = Field(ge=0, le=2)
    timeout: float = Field(gt=0)
    context_tokens: int = Field(ge=0, le=10_000_000)
    stream_tools: Literal["auto", "always", "never"] = "auto"
    concurrency: int = Field(default=0, ge=0, le=256)
    json_mode: Literal["auto", "json_schema", "json_object", "text"] = "auto"


class PerplexitySettings(_Section):
    api_key: SecretStr | None = None
    base_url: str


class PubMedSettings(_Section):
    base_url: str
    api_key: SecretStr | None = None
    email: str | None = None


class BaseUrlSettings(_Section):
    base_url: str


class R2Settings(_Section):
    endpoint_url: str | None = None
    bucket: str | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    # Documented jurisdictions (R2 docs "Data location"; `us` since the R2 changelog of 2026-08-17). Each has the
    # S3 endpoint https://<account>.<jurisdiction>.r2.cloudflarestorage.com and the same `jurisdiction` in the
    # Worker's R2 binding.
    jurisdiction: Literal["eu", "fedramp", "us"] | None = None
    prefix: str = ""
    addressing_style: Literal["path", "virtual"] = "path"


class SyncSettings(_Section):
    auto: bool = False


class ResearchSettings(_Section):
    budget_usd: float = Field(ge=0)
    depth: Literal["quick", "standard", "deep"]
    sources: str
    concurrency: int = Field(ge=1, le=64)
    review_plans: bool = False
    reranker: str = ""

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: str) -> str:
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in ALL_SOURCES]
        if unknown or not names:
            what = f"unknown source {', '.join(repr(u) for u in unknown)}" if unknown else "no source given"
            raise ValueError(f"{what}; choose from {', '.join(ALL_SOURCES)} (comma-separated)")
        return ",".join(dict.fromkeys(names))


class SearchSettings(_Section):
    connect_timeout: float = Field(gt=0, le=600)
    read_timeout: float = Field(gt=0, le=600)
    source_timeout: float = Field(gt=0, le=3600)


class MCPServerSettings(_Section):
    """One MCP server the Interaction Agent may use: launched as a command (stdio) or reached at a URL."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$")
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    trusted: bool = False

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSettings:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"MCP server '{self.name}' needs one way to reach it: a command (with args) or a url")
        return self


class MCPSettings(_Section):
    servers: list[MCPServerSettings] = Field(default_factory=list)

    @field_validator("servers", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        """The environment variable MIA_MCP_SERVERS holds the list as JSON."""
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"it must be a JSON list of servers ({exc.msg})") from None
        return value

    @field_validator("servers")
    @classmethod
    def _unique(cls, value: list[MCPServerSettings]) -> list[MCPServerSettings]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError("two MCP servers have the same name")
        return value


class FileSettings(_Section):
    max_mb: float = Field(gt=0, le=10_000)


class PriceSettings(_Section):
    usd_per_1k_neurons: float = Field(ge=0)
    llm_input_usd_per_m: float | None = Field(default=None, ge=0)
    llm_output_usd_per_m: float | None = Field(default=None, ge=0)
    perplexity_search_usd: float = Field(ge=0)


class NotifySettings(_Section):
    command: str | None = None


class MailSettings(_Section):
    transport: Literal["smtp", "resend"]
    from_address: str | None = None


class SMTPSettings(_Section):
    host: str | None = None
    port: int = Field(gt=0, lt=65536)
    security: Literal["starttls", "tls", "none"]
    user: str | None = None
    password: SecretStr | None = None


class ResendSettings(_Section):
    api_key: SecretStr | None = None
    base_url: str


class IMAPSettings(_Section):
    host: str | None = None
    port: int = Field(gt=0, lt=65536)
    security: Literal["tls", "starttls", "none"]
    user: str | None = None
    password: SecretStr | None = None
    mailbox: str


class TriggerSettings(_Section):
    grace_minutes: int = Field(ge=0)


class Settings(_Section):
    """The resolved settings; `sources` says where each key's value came from."""

    home: Path
    cloudflare: CloudflareSettings
    llm: LLMSettings
    perplexity: PerplexitySettings
    pubmed: PubMedSettings
    europepmc: BaseUrlSettings
    clinicaltrials: BaseUrlSettings
    r2: R2Settings
    sync: SyncSettings
    research: ResearchSettings
    search: SearchSettings
    files: FileSettings
    mcp: MCPSettings
    prices: PriceSettings
    notify: NotifySettings
    triggers: TriggerSettings
    mail: MailSettings
    smtp: SMTPSettings
    resend: ResendSettings
    imap: IMAPSettings
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    @property
    def registry_path(self) -> Path:
        return paths.registry_path(self.home)

    @property
    def workspace_root(self) -> Path:
        return paths.workspace_root(self.home)

    def value(self, key: str) -> Any:
        """The value of a dotted key (secrets stay SecretStr)."""
        obj: Any = self
        for part in key.split("."):
            obj = getattr(obj, part)
        return obj

    def secret(self, key: str) -> str | None:
        """The plain value of a secret key, for the client that needs it."""
        value = self.value(key)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    @property
    def r2_endpoint(self) -> str | None:
        """The R2 S3 endpoint: explicit, or derived from the account and jurisdiction."""
        if self.r2.endpoint_url:
            return self.r2.endpoint_url
        if not self.cloudflare.account_id:
            return None
        zone = f".{self.r2.jurisdiction}" if self.r2.jurisdiction else ""
        return f"https://{self.cloudflare.account_id}{zone}.r2.cloudflarestorage.com"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file into dotted keys; a broken file is a ConfigError naming it."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot parse '{path}': {exc}.", f"Fix the file by hand or remove it: rm '{path}'") from exc
    return _flatten(data)


def check_secrets_permissions(path: Path) -> None:
    """Refuse a secrets file that group or others can read, as ssh does."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"The secrets file '{path}' is readable by other users (mode {mode:04o}), so mia will not read it.",
            f"Fix it with: chmod 600 '{path}'",
        )


def read_secrets(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    check_secrets_permissions(path)
    return read_toml(path)


def _check_keys(values: Mapping[str, Any], origin: str, *, secrets_allowed: bool) -> None:
    for key in values:
        spec = SPEC_BY_KEY.get(key)
        if spec is None:
            raise ConfigError(f"Unknown setting '{key}' in {origin}.", "See `mia config show` for the known keys.")
        if spec.secret and not secrets_allowed:
            raise ConfigError(
                f"{origin} holds the secret '{key}', and config.toml is not for secrets.",
                f"Remove it there and store it with `mia config set {key}` (kept in secrets.toml, mode 0600).",
            )


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting from defaults, files, environment and overrides (in rising precedence)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in SPECS:
        values[spec.key], sources[spec.key] = spec.default, "default"
    config_path, secrets_path = paths.config_file(), paths.secrets_file()
    from_config = read_toml(config_path)
    _check_keys(from_config, f"'{config_path}'", secrets_allowed=False)
    from_secrets = read_secrets(secrets_path)
    _check_keys(from_secrets, f"'{secrets_path}'", secrets_allowed=True)
    for layer, origin in ((from_config, f"config:{config_path}"), (from_secrets, f"secrets:{secrets_path}")):
        for key, value in layer.items():
            values[key], sources[key] = value, origin
    for spec in SPECS:
        for name in spec.env_names:
            if env.get(name, "") != "":
                values[spec.key], sources[spec.key] = env[name], f"env:{name}"
                break
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in SPEC_BY_KEY:
            raise ConfigError(f"Unknown setting '{key}'.", "See `mia config show` for the known keys.")
        values[key], sources[key] = value, "option"
    if values["home"] in (None, ""):
        values["home"] = str(paths.default_home())
    values["home"] = str(Path(str(values["home"])).expanduser())
    return _validate(values, sources)


def _validate(values: dict[str, Any], sources: dict[str, str]) -> Settings:
    try:
        settings = Settings.model_validate({**_nest(values), "sources": sources})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        origin = sources.get(key, "default")
        raise ConfigError(f"The setting '{key}'{_where(origin)} has an invalid value {values.get(key)!r}: "
                          f"{plain_error(err)}.", _fix(key, origin)) from None
    return settings


def _where(origin: str) -> str:
    """Where a value came from, as words: ' in /path/config.toml', ' from the environment variable X'."""
    kind, _, rest = origin.partition(":")
    if kind in ("config", "secrets"):
        return f" in {rest}"
    if kind == "env":
        return f" from the environment variable {rest}"
    if kind == "option":
        return " given on the command line"
    return ""


def _fix(key: str, origin: str) -> str:
    kind, _, rest = origin.partition(":")
    if kind in ("config", "secrets"):
        return f"Fix it in {rest}, or replace it with `mia config set {key} VALUE` (or `mia config unset {key}`)."
    if kind == "env":
        return f"Fix or unset the environment variable {rest}."
    return f"Example: mia config set {key} {SPEC_BY_KEY[key].default}" if key in SPEC_BY_KEY else ""


def plain_error(err: Any) -> str:
    """One pydantic error in a person's words (no "Input should be a valid ..." wording)."""
    ctx, kind = err.get("ctx") or {}, err.get("type", "")
    words = {
        "literal_error": lambda: f"it must be one of {ctx.get('expected', '').replace(chr(39), '')}",
        "less_than_equal": lambda: f"it must be at most {ctx.get('le')}",
        "less_than": lambda: f"it must be less than {ctx.get('lt')}",
        "greater_than_equal": lambda: f"it must be at least {ctx.get('ge')}",
        "greater_than": lambda: f"it must be more than {ctx.get('gt')}",
        "int_parsing": lambda: "it must be a whole number",
        "int_type": lambda: "it must be a whole number",
        "int_from_float": lambda: "it must be a whole number",
        "float_parsing": lambda: "it must be a number",
        "float_type": lambda: "it must be a number",
        "bool_parsing": lambda: "it must be true or false",
        "bool_type": lambda: "it must be true or false",
        "string_too_short": lambda: "it must not be empty",
        "string_type": lambda: "it must be text",
        "value_error": lambda: str(ctx.get("error", err.get("msg", ""))),
    }
    say = words.get(kind)
    return say() if say else str(err.get("msg", "it is not valid")).rstrip(".")


def coerce(key: str, raw: str) -> Any:
    """Turn a string from the command line into the TOML value of `key`, validated."""
    spec = SPEC_BY_KEY.get(key)
    if spec is None:
        known = ", ".join(s.key for s in SPECS)
        raise UsageError(f"Unknown setting '{key}'.", f"Known settings: {known}.")
    value: Any = raw
    if isinstance(spec.default, bool):
        lowered = raw.strip().lower()
        if lowered not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
            raise UsageError(f"'{key}' takes true or false, not {raw!r}.", f"Example: mia config set {key} true")
        value = lowered in {"true", "1", "yes", "on"}
    elif isinstance(spec.default, int):
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"'{key}' takes a whole number, not {raw!r}.",
                             f"Example: mia config set {key} {spec.default}") from None
    elif isinstance(spec.default, list):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise UsageError(f"'{key}' takes a JSON list, not {raw!r}.",
                             f"Example: mia config set {key} '[{{\"name\": \"files\", \"command\": \"npx\", "
                             f"\"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/tmp\"]}}]' "
                             "(or edit config.toml: see the README)") from None
    elif isinstance(spec.default, float) or key.startswith("prices.") or key == "research.budget_usd":
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"'{key}' takes a number, not {raw!r}.",
                             f"Example: mia config set {key} {spec.default or 1.0}") from None
    return value


def set_value(key: str, raw: str) -> Path:
    """Store one setting in config.toml, or in secrets.toml (mode 0600) if it is secret."""
    import tomli_w

    value = coerce(key, raw)
    spec = SPEC_BY_KEY[key]
    path = paths.secrets_file() if spec.secret else paths.config_file()
    current = read_secrets(path) if spec.secret else read_toml(path)
    current[key] = value
    merged = {s.key: s.default for s in SPECS} | current | {key: value}
    merged["home"] = merged["home"] or str(paths.default_home())
    origins = {k: f"{'secrets' if spec.secret else 'config'}:{path}" for k in current} | {key: "new value"}
    try:
        Settings.model_validate({**_nest(merged), "sources": origins})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        if where != key and not where.startswith(f"{key}."):
            _validate(merged, origins)  # another key in the file is broken: say which, and where
        raise UsageError(f"'{key}' cannot be set to {raw!r}: {plain_error(err)}.",
                         f"Example: mia config set {key} {spec.default}" if spec.default not in (None, "")
                         else None) from None
    write_atomic(path, tomli_w.dumps(_nest(current)), mode=0o600 if spec.secret else 0o644, dir_mode=0o700)
    return path


def unset_value(key: str) -> Path:
    """Remove one setting from the file that holds it."""
    import tomli_w

    if key not in SPEC_BY_KEY:
        raise UsageError(f"Unknown setting '{key}'.", "See `mia config show` for the known keys.")
    spec = SPEC_BY_KEY[key]
    path = paths.secrets_file() if spec.secret else paths.config_file()
    current = read_secrets(path) if spec.secret else read_toml(path)
    if key not in current:
        env = next((name for name in spec.env_names if os.environ.get(name)), None)
        raise ConfigError(f"'{key}' is not set in {path}, so there is nothing to remove.",
                          f"Its value comes from the environment variable {env}; unset that instead." if env
                          else "`mia config show` lists every setting and where its value comes from.")
    current.pop(key, None)
    write_atomic(path, tomli_w.dumps(_nest(current)), mode=0o600 if spec.secret else 0o644, dir_mode=0o700)
    return path


def mask(value: str) -> str:
    """Show that a secret is set without showing it."""
    return "****" if value else ""


def _shown_server(server: MCPServerSettings) -> dict[str, Any]:
    table = server.model_dump(exclude_defaults=True)
    if server.env:
        table["env"] = {name: mask(value) for name, value in server.env.items()}
    return table


def describe(settings: Settings) -> list[dict[str, Any]]:
    """Every setting as {key, value, source, secret}, secrets masked."""
    rows = []
    for spec in SPECS:
        value = settings.value(spec.key)
        if isinstance(value, SecretStr):
            value = mask(value.get_secret_value())
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, list):  # mcp.servers: plain tables; an `env` may hold a server's token
            value = [_shown_server(v) if isinstance(v, MCPServerSettings) else v for v in value]
        rows.append({"key": spec.key, "value": value, "source": settings.sources.get(spec.key, "default"),
                     "secret": spec.secret, "env": spec.env_names[0], "help": spec.help})
    return rows
