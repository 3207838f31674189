//! The routes, each documented for the OpenAPI document: one module per
//! resource. [`router`] puts them together with the middleware.

mod approvals;
mod audit;
mod events;
mod grants;
mod health;
mod ingest;
mod plugins;
mod resources;
mod runs;
mod secrets;
mod tokens;
mod workflows;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiError, FieldError, Kind, Problem};
use super::state::AppState;

/// The parts of the document routes do not give.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baton",
        description = "Service orchestration: durable workflows of sandboxed WebAssembly steps. \
                       Every `/v1` route needs `Authorization: Bearer <token>`; errors are \
                       RFC 9457 problem documents whose `type` is `urn:baton:problem:<kind>`."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "plugins", description = "The plugin registry"),
        (name = "workflows", description = "Workflow versions"),
        (name = "runs", description = "Runs of workflows"),
        (name = "tokens", description = "Access tokens"),
        (name = "secrets", description = "Secrets for plugins (values go in, never out)"),
        (name = "events", description = "Event ingestion"),
        (name = "audit", description = "The audit trail"),
        (name = "resources", description = "Rules, schedules, policies and webhooks, and applying files of resources"),
        (name = "approvals", description = "Human decisions"),
        (name = "health", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers any `/v1` operation can give besides its own: a body over
/// the limit (when it takes one), a database that does not answer or a
/// server shutting down, and a fault of Baton itself.
fn add_common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for (path, item) in &mut openapi.paths.paths {
        if !path.starts_with("/v1/") || path == "/v1/openapi.json" {
            continue;
        }
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let responses = &mut operation.responses.responses;
            if operation.request_body.is_some() {
                responses
                    .entry("413".into())
                    .or_insert_with(|| problem("Over the body size limit").into());
            }
            responses
                .entry("500".into())
                .or_insert_with(|| problem("A fault of Baton itself").into());
            responses.entry("503".into()).or_insert_with(|| {
                problem("The database does not answer, or the server is shutting down").into()
            });
        }
    }
}

/// Every route, and the OpenAPI document that describes them.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let max_body = state.limits.max_body;
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(plugins::upload, plugins::list))
        .routes(routes!(plugins::versions))
        .routes(routes!(plugins::show, plugins::delete))
        .routes(routes!(grants::put, grants::list, grants::delete))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(workflows::save, workflows::show))
        .routes(routes!(workflows::list))
        .routes(routes!(workflows::versions))
        .routes(routes!(runs::start))
        .routes(routes!(runs::list))
        .routes(routes!(runs::show))
        .routes(routes!(runs::logs))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::retry))
        .routes(routes!(events::events))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(ingest::ingest, ingest::list))
        .routes(routes!(ingest::show))
        .routes(routes!(ingest::alertmanager_hook))
        .routes(routes!(ingest::webhook))
        .routes(routes!(resources::apply))
        .routes(routes!(resources::list))
        .routes(routes!(resources::show, resources::delete))
        .routes(routes!(approvals::list))
        .routes(routes!(approvals::show, approvals::decide))
        .routes(routes!(audit::list))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .split_for_parts();
    add_common_responses(&mut api);
    api.paths
        .paths
        .insert("/v1/openapi.json".into(), openapi_path_item());
    let document = api.clone();
    let router = router
        .route(
            "/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::metrics::track,
        ))
        .with_state(state);
    (router, api)
}

/// The document's own entry.
fn openapi_path_item() -> utoipa::openapi::PathItem {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    let operation = OperationBuilder::new()
        .operation_id(Some("openapi"))
        .summary(Some("This OpenAPI document"))
        .tag("health")
        .response(
            "200",
            ResponseBuilder::new()
                .description("The OpenAPI 3.1 document")
                .content("application/json", ContentBuilder::new().build())
                .build(),
        )
        .build();
    utoipa::openapi::PathItem::new(HttpMethod::Get, operation)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(Kind::NotFound, format!("no route {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Kind::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
