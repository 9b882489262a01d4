//! The facts of one request the lifecycle acts on, typed and checked once by the layer that
//! reads them from HTTP.

use std::rc::Rc;
use std::time::Instant;

use crate::api::resources::Subresource;
use crate::openapi::validate::Directive;
use crate::request::UserInfo;

/// What one request asks the Store for, beside the verb and its body.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// Who asks.
    pub user: Rc<UserInfo>,
    /// The namespace of the URL (None: cluster-scoped, or every namespace).
    pub namespace: Option<String>,
    /// The object's name ("" for collections).
    pub name: String,
    /// The subresource addressed (None: the object itself).
    pub subresource: Option<Subresource>,
    /// `dryRun=All`: everything but the write.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: Directive,
    /// When the request must be finished.
    pub deadline: Instant,
}

impl RequestFacts {
    /// Facts for work the server does itself (controllers): no user, no dry run, validation
    /// warnings dropped.
    pub fn internal(namespace: Option<&str>, name: &str, deadline: Instant) -> Self {
        Self {
            user: Rc::default(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            subresource: None,
            dry_run: false,
            field_manager: None,
            field_validation: Directive::Ignore,
            deadline,
        }
    }
}
