//! The layers (built-in defaults < TOML file < `SMR_*` environment) merged with figment, then
//! deserialized with serde as often as it takes to collect every schema and type problem: each
//! error names its key path, the offending value is reported with its source and taken out (so
//! its default applies), and serde runs again on the rest.

use std::path::Path;

use figment::error::{Actual, Kind};
use figment::providers::Serialized;
use figment::value::{Dict, Map, Num, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::problems::{describe, quoted_list, suggest, ConfigErrors, ConfigProblem, KeyPath, Seg};
use super::{Config, ENV_PREFIX, ENV_SEPARATOR, RESERVED_ENV_VARS};

/// One figment layer: a dictionary with its own metadata (so every value can name its source).
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

pub(super) fn read_config_file(path: &Path) -> Result<String, ConfigProblem> {
    let origin = path.display().to_string();
    std::fs::read_to_string(path).map_err(|err| {
        let message = match err.kind() {
            std::io::ErrorKind::NotFound => format!("config file not found: {origin}"),
            std::io::ErrorKind::InvalidData => format!("config file is not valid UTF-8: {origin}"),
            _ => format!("cannot read config file {origin}: {err}"),
        };
        ConfigProblem::whole(message, None) // the message names the file already
    })
}

/// The `SMR_*` variables of this process (names and values must be UTF-8).
pub(super) fn process_env(problems: &mut Vec<ConfigProblem>) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|name| has_env_prefix(name)) else {
            continue;
        };
        match value.into_string() {
            Ok(value) => vars.push((name.to_string(), value)),
            Err(_) => problems.push(ConfigProblem {
                key: env_key_path(name).join("."),
                message: "value is not valid UTF-8".to_string(),
                source: Some(format!("environment variable {name}")),
            }),
        }
    }
    vars
}

pub(super) fn has_env_prefix(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
}

/// `SMR_AUDIT__CONCURRENCY` -> `["audit", "concurrency"]`.
fn env_key_path(name: &str) -> Vec<String> {
    name.get(ENV_PREFIX.len()..)
        .unwrap_or_default()
        .split(ENV_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The merged layers, or the problems with the sources themselves (invalid TOML, bad names).
fn merge(file: Option<(&str, &str)>, env: &[(&str, &str)]) -> Result<Figment, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some((origin, text)) = file {
        match toml::from_str::<Dict>(text) {
            Ok(dict) => {
                let metadata = Metadata::from("config file", Source::File(origin.into()));
                figment = figment.merge(Layer { metadata, dict });
            }
            Err(err) => {
                let at = err.span().map_or_else(String::new, |span| {
                    let (line, column) = line_column(text, span.start);
                    format!(" at line {line}, column {column}")
                });
                let message = err.message().trim().replace('\n', "; ");
                let message = format!("invalid TOML{at}: {message}");
                problems.push(ConfigProblem::whole(message, Some(origin.to_string())));
            }
        }
    }
    for &(name, raw) in env {
        if !has_env_prefix(name) || RESERVED_ENV_VARS.contains(&name) {
            continue;
        }
        let source = format!("environment variable {name}");
        let keys = env_key_path(name);
        if keys.iter().any(String::is_empty) {
            let message = format!(
                "environment variable name {name} is not SMR_ followed by key names separated \
                 by {ENV_SEPARATOR} (e.g. SMR_AUDIT__CONCURRENCY)"
            );
            problems.push(ConfigProblem::whole(message, Some(source)));
            continue;
        }
        // parsed like figment's `Env`: numbers, booleans, arrays, tables, otherwise a string
        let mut value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.to_string()));
        for key in keys.iter().rev() {
            value = Value::from(Dict::from([(key.clone(), value)]));
        }
        if let Some(dict) = value.into_dict() {
            let metadata = Metadata::named(source.clone()).source(Source::Custom(source));
            figment = figment.merge(Layer { metadata, dict });
        }
    }
    if problems.is_empty() {
        Ok(figment)
    } else {
        Err(problems)
    }
}

/// What deserializing the merged tree found: the config (with defaults where values were taken
/// out), the problems, and the paths whose values are not the ones given.
pub(super) struct Loaded {
    pub(super) config: Config,
    pub(super) problems: Vec<(KeyPath, ConfigProblem)>,
    /// Values taken out or replaced: semantic problems at or depending on them are not reported.
    pub(super) failed: Vec<KeyPath>,
    /// Integers out of their type's range, replaced by 0 or `u32::MAX` for the range checks to
    /// word the problem: the path and the value given.
    pub(super) out_of_range: Vec<(KeyPath, String)>,
    /// The tree as merged, for the source of each semantic problem.
    pub(super) root: Value,
    pub(super) figment: Figment,
}

pub(super) fn load_layers(
    file: Option<(&str, &str)>,
    env: &[(&str, &str)],
) -> Result<Loaded, ConfigErrors> {
    let figment = merge(file, env).map_err(|problems| ConfigErrors { problems })?;
    let root = figment.find_value("").map_err(|err| ConfigErrors {
        problems: vec![ConfigProblem::whole(
            format!("cannot merge the configuration sources: {}", err.kind),
            None,
        )],
    })?;
    let mut tree = root.clone();
    let mut loaded = Loaded {
        config: Config::default(),
        problems: Vec::new(),
        failed: Vec::new(),
        out_of_range: Vec::new(),
        root,
        figment,
    };
    // lists of strings with a bad item fall back to their default as a whole
    let mut reset_lists: Vec<KeyPath> = Vec::new();
    loop {
        let err = match Config::deserialize(&tree) {
            Ok(config) if reset_lists.is_empty() => {
                loaded.config = config;
                break;
            }
            Ok(_) => {
                for list in reset_lists.drain(..) {
                    remove(&mut tree, &list);
                    loaded.failed.push(list);
                }
                continue;
            }
            Err(err) => err,
        };
        let path = key_path(&tree, &err.path);
        if loaded.failed.contains(&path) || loaded.problems.len() > 1000 {
            // taking the value out did not help: give up on the rest
            let message = format!("cannot be read: {}", err.kind);
            let source = source_of(&loaded.figment, path.lookup(&tree));
            loaded.problems.push((
                path,
                ConfigProblem {
                    key: String::new(),
                    message,
                    source,
                },
            ));
            break;
        }
        let value = path.lookup(&tree).clone();
        if let Some(substitute) = out_of_range(&err.kind, &value) {
            loaded.out_of_range.push((path.clone(), describe(&value)));
            if let Some(slot) = path.lookup_mut(&mut tree) {
                *slot = substitute;
            }
            loaded.failed.push(path);
            continue;
        }
        let problem = ConfigProblem {
            key: path.to_string(),
            message: message(&path, &err.kind, &value),
            source: source_of(&loaded.figment, &value),
        };
        loaded.problems.push((path.clone(), problem));
        if let Some(Seg::Index(_)) = path.0.last() {
            // keep the indexes of the items after it right: a bad table in a list of tables
            // becomes an empty one; a list of strings with a bad item falls back to its default
            // as a whole, once every bad item is known
            let table = matches!(&err.kind, Kind::InvalidType(_, e) if e.starts_with("struct "));
            if !table {
                reset_lists.push(path.parent());
            }
            let placeholder = match table {
                true => Value::from(Dict::new()),
                false => Value::from(String::new()),
            };
            if let Some(slot) = path.lookup_mut(&mut tree) {
                *slot = placeholder;
            }
        } else {
            remove(&mut tree, &path);
        }
        loaded.failed.push(path);
    }
    Ok(loaded)
}

/// figment's path (keys, with list indexes as strings) as a [`KeyPath`].
fn key_path(tree: &Value, path: &[String]) -> KeyPath {
    let mut out = KeyPath::root();
    for segment in path {
        let index = match out.lookup(tree) {
            Value::Array(..) => segment.parse().ok(),
            _ => None,
        };
        out = match index {
            Some(index) => out.index(index),
            None => out.key(segment),
        };
    }
    out
}

/// Takes the value at `path` out of its table (or list), so that its default applies.
fn remove(tree: &mut Value, path: &KeyPath) {
    let Some(last) = path.0.last() else { return };
    match (path.parent().lookup_mut(tree), last) {
        (Some(Value::Dict(_, dict)), Seg::Key(key)) => {
            dict.remove(key);
        }
        (Some(Value::Array(_, items)), Seg::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

fn is_integer_type(expected: &str) -> bool {
    matches!(
        expected,
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
    )
}

/// An integer given for an integer key but outside its type (negative, or too large): the value
/// to check the key's range with instead.
fn out_of_range(kind: &Kind, value: &Value) -> Option<Value> {
    let Kind::InvalidValue(actual, expected) = kind else {
        return None;
    };
    let Value::Num(tag, _) = value else {
        return None;
    };
    if !is_integer_type(expected) {
        return None;
    }
    match actual {
        Actual::Signed(_) => Some(Value::Num(*tag, Num::U8(0))),
        _ => Some(Value::Num(*tag, Num::U32(u32::MAX))),
    }
}

/// The message for a schema or type problem at `path`, where `value` was found.
fn message(path: &KeyPath, kind: &Kind, value: &Value) -> String {
    let found = describe(value);
    let expected = match kind {
        Kind::UnknownField(name, known) => {
            return match suggest(name, known) {
                Some(close) => format!("unknown key; did you mean `{close}`?"),
                None => format!("unknown key; expected one of {}", quoted_list(known)),
            }
        }
        Kind::UnknownVariant(_, variants) => one_of(variants),
        Kind::InvalidType(_, expected)
        | Kind::InvalidValue(_, expected)
        | Kind::InvalidLength(_, expected) => match expected.as_str() {
            e if is_integer_type(e) => "an integer".to_string(),
            "f32" | "f64" => "a number".to_string(),
            "a string" | "path string" | "a character" => "a string".to_string(),
            "a boolean" => "true or false".to_string(),
            "a sequence" if path.0 == [Seg::Key("accounts".into())] => {
                return format!(
                    "expected an array of tables ([[accounts]] in TOML, or \
                     SMR_ACCOUNTS='[{{id=\"111122223333\"}}]'), found {found}"
                )
            }
            "a sequence" => "an array".to_string(),
            "a map" => "a table".to_string(),
            e if e.starts_with("struct ") => "a table".to_string(),
            e => match e.strip_prefix("enum ").and_then(super::variants_of) {
                Some(variants) => one_of(variants),
                None => e.to_string(),
            },
        },
        Kind::Message(message) => return message.clone(),
        other => return other.to_string(),
    };
    if path.last_key() == Some("id") && matches!(value, Value::Num(..)) {
        return format!(
            "expected a string, found {found}; quote account ids (id = \"111122223333\") so \
             leading zeros survive"
        );
    }
    format!("expected {expected}, found {found}")
}

/// `"a", "b" or "c"`.
fn one_of(variants: &[&str]) -> String {
    let quoted: Vec<String> = variants.iter().map(|v| format!("{v:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// The file path or `environment variable SMR_X` a value came from; `None` for defaults.
pub(super) fn source_of(figment: &Figment, value: &Value) -> Option<String> {
    match figment.get_metadata(value.tag())?.source.as_ref()? {
        Source::File(path) => Some(path.display().to_string()),
        Source::Custom(custom) => Some(custom.clone()),
        _ => None,
    }
}

/// The keys of the struct `T`, as serde knows them (the list an unknown key is checked against).
pub fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let probe = Value::from(Dict::from([("\u{0}".to_string(), Value::from(0u8))]));
    match T::deserialize(&probe) {
        Err(err) => match err.kind {
            Kind::UnknownField(_, known) => known,
            _ => &[],
        },
        Ok(_) => &[],
    }
}
