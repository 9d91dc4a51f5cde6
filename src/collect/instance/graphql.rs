//! The queries, as small trees rather than strings, so that a field an
//! older instance's schema lacks can be dropped and the query sent again:
//! the instance's answer `Cannot query field "warning" on type
//! "ExternalService"` names the field and the type it was asked on, and
//! each object in the tree knows its GraphQL type.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// One field of a selection: a scalar, or an object of GraphQL type `ty`
/// with its own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    name: &'static str,
    /// `(first: $first, after: $after)` or empty.
    args: &'static str,
    /// The object type its children are fields of; empty for scalars.
    ty: &'static str,
    children: Vec<Field>,
}

pub fn leaf(name: &'static str) -> Field {
    Field {
        name,
        args: "",
        ty: "",
        children: Vec::new(),
    }
}

pub fn obj(name: &'static str, ty: &'static str, children: Vec<Field>) -> Field {
    Field {
        name,
        args: "",
        ty,
        children,
    }
}

pub fn leaves(names: &[&'static str]) -> Vec<Field> {
    names.iter().map(|n| leaf(n)).collect()
}

impl Field {
    pub fn with_args(mut self, args: &'static str) -> Field {
        self.args = args;
        self
    }
}

/// A named query on the root type `Query`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub name: &'static str,
    /// `($first: Int!, $after: String)` or empty.
    pub params: &'static str,
    pub fields: Vec<Field>,
}

impl Query {
    pub fn text(&self) -> String {
        let mut s = format!("query {}{} {{", self.name, self.params);
        render(&self.fields, &mut s);
        s.push_str(" }");
        s
    }

    /// Removes `field` from every object of type `ty` (`Query` is the
    /// root); an object left with no fields goes too, since GraphQL
    /// refuses an empty selection. False when nothing was removed.
    pub fn drop_field(&mut self, ty: &str, field: &str) -> bool {
        let before = self.clone();
        if ty == "Query" {
            self.fields.retain(|f| f.name != field);
        }
        drop_in(&mut self.fields, ty, field);
        *self != before
    }

    /// Gives `field` (at the top level) other arguments, and the query
    /// other parameters: for an older schema without an argument.
    pub fn set_args(&mut self, field: &str, args: &'static str, params: &'static str) {
        for f in self.fields.iter_mut().filter(|f| f.name == field) {
            f.args = args;
        }
        self.params = params;
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

fn render(fields: &[Field], s: &mut String) {
    for f in fields {
        s.push(' ');
        s.push_str(f.name);
        s.push_str(f.args);
        if !f.children.is_empty() {
            s.push_str(" {");
            render(&f.children, s);
            s.push_str(" }");
        }
    }
}

fn drop_in(fields: &mut Vec<Field>, ty: &str, field: &str) {
    for f in fields.iter_mut() {
        if f.ty == ty {
            f.children.retain(|c| c.name != field);
        }
        drop_in(&mut f.children, ty, field);
    }
    fields.retain(|f| f.ty.is_empty() || !f.children.is_empty());
}

static MISSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Cannot query field "([A-Za-z0-9_]+)" on type "([A-Za-z0-9_]+)""#).unwrap()
});

/// `(type, field)` when a GraphQL error says the schema has no such field.
pub fn missing_field(message: &str) -> Option<(String, String)> {
    MISSING
        .captures(message)
        .map(|c| (c[2].to_string(), c[1].to_string()))
}

static UNKNOWN_ARG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Unknown argument "([A-Za-z0-9_]+)" on field "([A-Za-z0-9_]+)""#).unwrap()
});

/// `(field, argument)` when a GraphQL error says the field takes no such
/// argument.
pub fn unknown_argument(message: &str) -> Option<(String, String)> {
    UNKNOWN_ARG
        .captures(message)
        .map(|c| (c[2].to_string(), c[1].to_string()))
}

/// The messages of a response's `errors`.
pub fn error_messages(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| match e["message"].as_str() {
            Some(m) => m.to_string(),
            None => e.to_string(),
        })
        .collect()
}

/// Whether an error says the token's user is not a site admin. The
/// instance says `must be site admin`; some versions add more words.
pub fn is_not_admin(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("must be site admin") || m.contains("must be authenticated as an admin")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Query {
        Query {
            name: "Q",
            params: "($first: Int!)",
            fields: vec![
                obj(
                    "externalServices",
                    "ExternalServiceConnection",
                    vec![
                        leaf("totalCount"),
                        obj("nodes", "ExternalService", leaves(&["id", "warning"])),
                    ],
                )
                .with_args("(first: $first)"),
                obj("site", "Site", leaves(&["productVersion"])),
            ],
        }
    }

    #[test]
    fn renders_and_drops_missing_fields() {
        let mut q = services();
        assert_eq!(
            q.text(),
            "query Q($first: Int!) { externalServices(first: $first) { totalCount nodes { id warning } } site { productVersion } }"
        );
        let (ty, f) = missing_field(
            "Cannot query field \"warning\" on type \"ExternalService\". Did you mean \"webhookURL\"?",
        )
        .unwrap();
        assert!(q.drop_field(&ty, &f));
        assert!(!q.text().contains("warning"), "{}", q.text());
        assert!(!q.drop_field(&ty, &f), "nothing left to drop");
        // An object that loses its last field goes with it.
        assert!(q.drop_field("Site", "productVersion"));
        assert!(!q.text().contains("site"), "{}", q.text());
        assert!(q.drop_field("Query", "externalServices"));
        assert!(q.is_empty());
    }

    #[test]
    fn recognises_errors() {
        assert_eq!(missing_field("must be site admin"), None);
        assert_eq!(
            unknown_argument(
                "Unknown argument \"after\" on field \"externalServices\" of type \"Query\"."
            ),
            Some(("externalServices".into(), "after".into()))
        );
        assert!(is_not_admin("must be site admin"));
        let r = serde_json::json!({"errors": [{"message": "a"}, {"x": 1}]});
        assert_eq!(error_messages(&r), ["a", "{\"x\":1}"]);
    }
}
