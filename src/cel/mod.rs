//! The one CEL module: expressions compiled once (when a configuration is read) and evaluated
//! over JSON variables (`claims`, `user`, `request`, ...), on the cel-rust interpreter (the
//! `cel` crate) with its standard library and macros (`has`, `exists`, `all`, `map`, `filter`,
//! string functions, regex `matches`).
//!
//! Not yet as upstream: type checking at compile time (an expression that refers to a field
//! that is not there fails when evaluated), cost limits, and the Kubernetes extension
//! libraries (`url`, `quantity`, `lists`, `sets`, `authz`, ...).

use serde_json::Value;

/// A compiled CEL expression (cheap to clone: the program is shared).
#[derive(Clone)]
pub struct Expression {
    source: String,
    program: std::sync::Arc<cel::Program>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Expression {}

impl Expression {
    /// Compiles `source`, or says why it does not parse.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = cel::Program::compile(source).map_err(|e| {
            format!(
                "compilation failed: {}",
                e.to_string().lines().next().unwrap_or("syntax error")
            )
        })?;
        Ok(Self {
            source: source.to_string(),
            program: std::sync::Arc::new(program),
        })
    }

    /// The expression's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value of the expression with `vars` bound, as JSON.
    pub fn eval(&self, vars: &[(&str, &Value)]) -> Result<Value, String> {
        let mut a = Activation::default();
        for (name, v) in vars {
            a.bind(name, v);
        }
        self.eval_in(&a)
    }

    /// The value of the expression over `a`'s variables, as JSON.
    pub fn eval_in(&self, a: &Activation) -> Result<Value, String> {
        self.eval_layers(&[a])
    }

    /// The value of the expression over variables looked for in `layers`, first layer
    /// first (a policy's params and variables over the request's objects), as JSON. The
    /// variables are borrowed as converted, never copied per evaluation.
    pub fn eval_layers(&self, layers: &[&Activation]) -> Result<Value, String> {
        let resolver = Layers(layers);
        ENV.with(|env| {
            let mut ctx = cel::Context::with_env(std::sync::Arc::clone(env));
            ctx.set_variable_resolver(&resolver);
            let out = self
                .program
                .execute(&ctx)
                .map_err(|e| format!("expression {:?}: {e}", self.source))?;
            out.json()
                .map_err(|e| format!("expression {:?}: {e}", self.source))
        })
    }

    /// The expression's value, which must be a bool.
    pub fn eval_bool(&self, vars: &[(&str, &Value)]) -> Result<bool, String> {
        match self.eval(vars)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!(
                "expression {:?} must evaluate to bool, got {other}",
                self.source
            )),
        }
    }
}

thread_local! {
    /// The standard library, built once per thread and shared by every evaluation's context.
    static ENV: std::sync::Arc<cel::Env> = std::sync::Arc::new(cel::Env::stdlib());
}

/// A CEL value as the interpreter holds it.
type Val = Box<dyn cel::common::value::Val>;

/// Variables converted to CEL once and borrowed by every expression evaluated over them (a
/// policy's validations all see the same object). JSON integers are CEL `int`, as upstream's
/// schema-typed values are (not `uint`, which would not mix with literals in arithmetic).
#[derive(Default)]
pub struct Activation(Vec<(String, Val)>);

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Activation {
    /// Binds `name` to `v` (replacing an earlier binding).
    pub fn bind(&mut self, name: &str, v: &Value) {
        // Every JSON value converts (a failure would be an interpreter bug): null then.
        let v: Val =
            Val::try_from(to_cel(v)).unwrap_or_else(|_| Box::new(cel::common::types::CelNull));
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.0.push((name.to_string(), v)),
        }
    }
}

/// Activations searched in order.
struct Layers<'a>(&'a [&'a Activation]);

impl cel::context::VariableResolver for Layers<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<cel::common::value::CowVal<'b, 'b>> {
        self.0.iter().find_map(|a| {
            a.0.iter()
                .find(|(n, _)| n == variable)
                .map(|(_, v)| cel::common::value::CowVal::Borrowed(v.as_ref()))
        })
    }
}

fn to_cel(v: &Value) -> cel::Value {
    use std::sync::Arc;
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: std::collections::HashMap<cel::objects::Key, cel::Value> = m
                .iter()
                .map(|(k, v)| (cel::objects::Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

/// Expressions live in configuration shared by every shard.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Expression>();
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_over_json() {
        let claims = json!({"sub": "1", "email": "jane@example.com", "groups": ["a", "b"], "hd": "example.com"});
        let vars = [("claims", &claims)];
        let e = Expression::compile("'oidc:' + claims.email").unwrap();
        assert_eq!(e.eval(&vars).unwrap(), json!("oidc:jane@example.com"));
        let e = Expression::compile("claims.groups.map(g, 'x:' + g)").unwrap();
        assert_eq!(e.eval(&vars).unwrap(), json!(["x:a", "x:b"]));
        let e = Expression::compile("has(claims.hd) && claims.hd == 'example.com'").unwrap();
        assert!(e.eval_bool(&vars).unwrap());
        let e = Expression::compile("claims.email.endsWith('@other.com')").unwrap();
        assert!(!e.eval_bool(&vars).unwrap());
        assert!(Expression::compile("claims.email +").is_err());
        let e = Expression::compile("claims.sub").unwrap();
        assert!(e.eval_bool(&vars).is_err(), "not a bool");
        assert!(Expression::compile("claims.nope.deeper")
            .unwrap()
            .eval(&vars)
            .is_err());
        // Integers from JSON are CEL ints: arithmetic with literals works.
        let obj = json!({"spec": {"replicas": 3}});
        let e = Expression::compile("object.spec.replicas * 2 + 1 == 7").unwrap();
        assert!(e.eval_bool(&[("object", &obj)]).unwrap());
    }
}
