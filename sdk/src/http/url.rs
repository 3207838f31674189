//! URLs as `wasi:http` wants them (scheme, authority, path with query), and
//! the resolution of a redirect's `Location` against the URL that answered.
//!
//! Deliberately small: absolute `http`/`https` URLs only, no user info, the
//! fragment dropped (it never goes on the wire).

use super::HttpError;
use crate::bindings::wasi::http::types::Scheme;

/// The parts of a URL that `wasi:http` wants separately.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    pub(crate) authority: String,
    /// Path and query, starting with `/`.
    pub(crate) path: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, HttpError> {
        let bad =
            || HttpError::InvalidRequest(format!("{url:?} is not an http:// or https:// URL"));
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return Err(bad()),
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path,
        })
    }

    /// `scheme://authority`, as named in messages (never the path, which
    /// may hold a secret).
    pub(crate) fn origin(&self) -> String {
        let scheme = match &self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Other(s) => s.as_str(),
        };
        format!("{scheme}://{}", self.authority.to_ascii_lowercase())
    }

    /// The whole URL.
    pub(crate) fn url(&self) -> String {
        format!("{}{}", self.origin(), self.path)
    }

    /// Where a redirect with `location` from this URL goes (RFC 3986,
    /// section 5.2).
    pub(crate) fn join(&self, location: &str) -> Result<Self, HttpError> {
        let location = location.trim();
        let location = location
            .split_once('#')
            .map_or(location, |(before, _)| before);
        if has_scheme(location) {
            return Self::parse(location).map_err(|_| {
                HttpError::Redirect(format!(
                    "{} redirected to a URL that is not http or https",
                    self.origin()
                ))
            });
        }
        let scheme_text = match self.scheme {
            Scheme::Https => "https",
            _ => "http",
        };
        if let Some(rest) = location.strip_prefix("//") {
            return Self::parse(&format!("{scheme_text}://{rest}"));
        }
        let current_path = self
            .path
            .split_once('?')
            .map_or(self.path.as_str(), |(p, _)| p);
        let path = if location.is_empty() {
            self.path.clone()
        } else if location.starts_with('/') {
            location.to_owned()
        } else if location.starts_with('?') {
            format!("{current_path}{location}")
        } else {
            let directory = current_path
                .rfind('/')
                .map_or("/", |end| &current_path[..=end]);
            format!("{directory}{location}")
        };
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path.to_owned(), format!("?{query}")),
            None => (path, String::new()),
        };
        Ok(Self {
            scheme: self.scheme.clone(),
            authority: self.authority.clone(),
            path: format!("{}{query}", remove_dot_segments(&path)),
        })
    }
}

/// Whether `reference` starts with `scheme:` (letters, digits, `+-.`).
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// Resolves `.` and `..` segments of an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(base: &str, location: &str) -> String {
        Target::parse(base).unwrap().join(location).unwrap().url()
    }

    #[test]
    fn locations_resolve_like_a_browser() {
        let base = "https://api.example.com/a/b/c?q=1";
        assert_eq!(
            join(base, "https://other.example/x"),
            "https://other.example/x"
        );
        assert_eq!(join(base, "//cdn.example/y"), "https://cdn.example/y");
        assert_eq!(join(base, "/root?z"), "https://api.example.com/root?z");
        assert_eq!(join(base, "d"), "https://api.example.com/a/b/d");
        assert_eq!(join(base, "../d"), "https://api.example.com/a/d");
        assert_eq!(join(base, "./"), "https://api.example.com/a/b/");
        assert_eq!(join(base, "?p=2"), "https://api.example.com/a/b/c?p=2");
        assert_eq!(join(base, "/x#frag"), "https://api.example.com/x");
        assert_eq!(join(base, "/../../x"), "https://api.example.com/x");
    }

    #[test]
    fn non_http_locations_are_refused() {
        let base = Target::parse("https://api.example.com/").unwrap();
        assert!(matches!(base.join("ftp://x/"), Err(HttpError::Redirect(_))));
        assert!(matches!(
            base.join("javascript:alert(1)"),
            Err(HttpError::Redirect(_))
        ));
    }
}
