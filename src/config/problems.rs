//! What is wrong with a configuration: [`ConfigProblem`]s at [`KeyPath`]s, collected into one
//! [`ConfigErrors`].

use std::fmt;

use figment::value::Value;

/// One problem found while loading or validating the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    /// Key path of the offending value, e.g. `audit.concurrency`, `accounts[1].external_id` or
    /// `controls.required_tag_keys[2]`. Empty for problems with a whole source (a missing file,
    /// invalid TOML).
    pub key: String,
    /// What is wrong, e.g. `unknown key; did you mean `concurrency`?`.
    pub message: String,
    /// Where the value came from when known: the config file path (or `config file` for
    /// [`super::Config::load_from`]) or `environment variable SMR_X`. `None` for built-in
    /// defaults, for an unreadable file (the message names it) and for
    /// [`super::Config::validate`] on a hand-built value.
    pub source: Option<String>,
}

impl ConfigProblem {
    pub(super) fn whole(message: impl Into<String>, source: Option<String>) -> Self {
        ConfigProblem {
            key: String::new(),
            message: message.into(),
            source,
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.key, self.message)?;
        }
        match &self.source {
            Some(source) => write!(f, " (from {source})"),
            None => Ok(()),
        }
    }
}

/// Every problem found in the configuration; `Display` prints one per line.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors {
    /// The problems, in the order found: source problems, then schema and type problems in key
    /// order, then semantic problems section by section.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    /// The key paths of all problems, in order (handy in tests and for counting).
    pub fn keys(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.key.as_str()).collect()
    }

    /// The first problem at exactly `key`, if any.
    pub fn find(&self, key: &str) -> Option<&ConfigProblem> {
        self.problems.iter().find(|p| p.key == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the configuration tree, displayed as `accounts[1].external_id`; ordered segment
/// by segment, as the keys of a TOML table are.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct KeyPath(pub(super) Vec<Seg>);

impl KeyPath {
    pub(super) fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub(super) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_string()));
        KeyPath(segs)
    }

    pub(super) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    /// `self` equals `other` or lies inside it.
    pub(super) fn within(&self, other: &KeyPath) -> bool {
        self.0.starts_with(&other.0)
    }

    pub(super) fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    pub(super) fn parent(&self) -> KeyPath {
        KeyPath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// The first key (the section), if any.
    pub(super) fn section(&self) -> Option<&str> {
        match self.0.first() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The value at this path in `root`, or at its nearest ancestor that exists.
    pub(super) fn lookup<'v>(&self, root: &'v Value) -> &'v Value {
        let mut value = root;
        for seg in &self.0 {
            let next = match (seg, value) {
                (Seg::Key(k), Value::Dict(_, dict)) => dict.get(k),
                (Seg::Index(i), Value::Array(_, items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(next) => value = next,
                None => break,
            }
        }
        value
    }

    /// The value at this path in `root`, to change it.
    pub(super) fn lookup_mut<'v>(&self, root: &'v mut Value) -> Option<&'v mut Value> {
        let mut value = root;
        for seg in &self.0 {
            value = match (seg, value) {
                (Seg::Key(k), Value::Dict(_, dict)) => dict.get_mut(k)?,
                (Seg::Index(i), Value::Array(_, items)) => items.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        // as TOML quotes it: actions."SageMaker.3"
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A key TOML writes without quotes: ASCII letters, digits, `_` and `-`.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A semantic problem, with the other keys it depends on (it is not reported when one of those
/// already has a type problem, since its value is then only the default).
#[derive(Debug)]
pub(super) struct Issue {
    pub(super) path: KeyPath,
    pub(super) message: String,
    pub(super) depends_on: Vec<KeyPath>,
}

impl Issue {
    pub(super) fn new(path: &KeyPath, message: impl Into<String>) -> Self {
        Issue {
            path: path.clone(),
            message: message.into(),
            depends_on: Vec::new(),
        }
    }

    pub(super) fn depends_on(mut self, path: &KeyPath) -> Self {
        self.depends_on.push(path.clone());
        self
    }
}

/// A value's type (and the value, for scalars) for messages.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("string {s:?}"),
        Value::Char(_, c) => format!("string {:?}", c.to_string()),
        Value::Bool(_, b) => format!("boolean {b}"),
        Value::Num(_, n) => match (n.to_u128(), n.to_i128(), n.to_f64()) {
            (Some(u), _, _) => format!("integer {u}"),
            (None, Some(i), _) => format!("integer {i}"),
            (None, None, Some(f)) => format!("float {f}"),
            (None, None, None) => "a number".to_string(),
        },
        Value::Empty(_, _) => "nothing".to_string(),
        Value::Dict(_, _) => "a table".to_string(),
        Value::Array(_, _) => "an array".to_string(),
    }
}

/// The known key closest to `name`, if it is close enough to be a likely typo.
pub(super) fn suggest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let normalize = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let wanted = normalize(name);
    known
        .iter()
        .map(|&k| (k, strsim::levenshtein(&wanted, &normalize(k))))
        .filter(|&(k, d)| d <= if k.len() <= 4 { 1 } else { 2.max(k.len() / 4) })
        .min_by_key(|&(_, d)| d)
        .map(|(k, _)| k)
}

/// `a`, `b`, `c` for messages.
pub(super) fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A garde path (`accounts[0].id`, `audit.regions[2]`: field names and list indexes only) as a
/// [`KeyPath`].
pub(super) fn from_garde(path: &garde::Path) -> KeyPath {
    let mut out = KeyPath::root();
    for part in path.to_string().split('.') {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out = out.key(key);
        }
        for index in pieces.filter_map(|p| p.trim_end_matches(']').parse().ok()) {
            out = out.index(index);
        }
    }
    out
}
