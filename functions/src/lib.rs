//! Chathub's route handlers: one module per route under [`routes`], each declaring its route key,
//! its function (binary) name and the clients its Lambda builds, next to its handler; one
//! one-line binary per route under `src/bin/` ([`lambda_main!`]); and [`table`], the list of route
//! modules that the local gateway serves and that template.yaml, the docs and `events/` are
//! tested against. CONTRIBUTING.md has the steps for a new route.

/// Declares a REST route in its module, next to `handle`: `ROUTE` (method, path, function and the
/// clients it holds), `Context` (what `handle` is given: the store and the clients of the set
/// named last, from `chathub_shared::clients`), the Lambda binary's `main` (configuration, the
/// store and those clients once per cold start, then `handle` per event) and `dispatch`, the same
/// handler as the local gateway runs it, with the same clients. A domain call that needs a client
/// the set lacks does not compile. `configured`: `handle` is given the configuration alone (no
/// store, no SDK client).
macro_rules! rest_route {
    ($method:literal $path:literal => $function:literal, configured) => {
        pub const ROUTE: $crate::table::RestRoute =
            $crate::table::RestRoute { method: $method, path: $path, function: $function, needs: None };

        /// The Lambda binary's whole life.
        pub async fn main() -> Result<(), lambda_http::Error> {
            chathub_shared::http::run_configured(ROUTE.function, handle).await
        }

        /// One request, as the local gateway runs it.
        pub async fn dispatch(
            all: &chathub_shared::With<chathub_shared::clients::Local>,
            req: lambda_http::Request,
        ) -> chathub_shared::http::Response {
            chathub_shared::http::respond(ROUTE.function, handle(all.config.clone(), req)).await
        }
    };
    ($method:literal $path:literal => $function:literal, $clients:ident) => {
        /// What `handle` is given: the store and the clients this route declared.
        pub type Context = chathub_shared::With<chathub_shared::clients::$clients>;

        pub const ROUTE: $crate::table::RestRoute = $crate::table::RestRoute {
            method: $method,
            path: $path,
            function: $function,
            needs: Some(<chathub_shared::clients::$clients as chathub_shared::clients::Clients>::NEEDS),
        };

        /// The Lambda binary's whole life.
        pub async fn main() -> Result<(), lambda_http::Error> {
            chathub_shared::http::run::<chathub_shared::clients::$clients, _, _>(ROUTE.function, handle).await
        }

        /// One request, as the local gateway runs it.
        pub async fn dispatch(
            all: &chathub_shared::With<chathub_shared::clients::Local>,
            req: lambda_http::Request,
        ) -> chathub_shared::http::Response {
            chathub_shared::http::respond(ROUTE.function, handle(all.narrow(), req)).await
        }
    };
}

/// Declares a WebSocket route in its module, next to `handle`: `ROUTE` (route key, function,
/// clients), `Context`, the Lambda binary's `main` and the gateway's `dispatch`, as
/// [`rest_route!`] does. `stateless`: `handle` is given the configuration alone; `lifecycle`:
/// `$connect`/`$disconnect`, answered by status code; `answers_early`: a one-way route (no route
/// response in template.yaml) whose `handle` posts its answer itself, through the management API,
/// before it is done (`chathub_shared::ws::Answer`).
macro_rules! ws_route {
    ($key:literal => $function:literal, stateless) => {
        pub const ROUTE: $crate::table::WsRoute =
            $crate::table::WsRoute { route_key: $key, function: $function, needs: None, answers_early: false };

        /// The Lambda binary's whole life.
        pub async fn main() -> Result<(), lambda_runtime::Error> {
            chathub_shared::ws::run_stateless(ROUTE.route_key, handle).await
        }

        /// One event, as the local gateway runs it.
        pub async fn dispatch(
            all: &chathub_shared::With<chathub_shared::clients::Local>,
            event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
        ) -> serde_json::Value {
            chathub_shared::ws::respond(ROUTE.route_key, all.config.clone(), event, handle).await
        }
    };
    ($key:literal => $function:literal, lifecycle $clients:ident) => {
        ws_route!(@declare $key => $function, $clients);

        /// The Lambda binary's whole life.
        pub async fn main() -> Result<(), lambda_runtime::Error> {
            chathub_shared::ws::run_lifecycle::<chathub_shared::clients::$clients, _, _>(ROUTE.route_key, handle).await
        }

        /// One event, as the local gateway runs it.
        pub async fn dispatch(
            all: &chathub_shared::With<chathub_shared::clients::Local>,
            event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
        ) -> serde_json::Value {
            chathub_shared::ws::respond_lifecycle(ROUTE.route_key, all.narrow(), event, handle).await
        }
    };
    ($key:literal => $function:literal, answers_early $clients:ident) => {
        ws_route!(@declare $key => $function, $clients, true);

        /// The Lambda binary's whole life.
        pub async fn main() -> Result<(), lambda_runtime::Error> {
            chathub_shared::ws::run_early::<chathub_shared::clients::$clients, _, _>(ROUTE.route_key, handle).await
        }

        /// One event, as the local gateway runs it.
        pub async fn dispatch(
            all: &chathub_shared::With<chathub_shared::clients::Local>,
            event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
        ) -> serde_json::Value {
            chathub_shared::ws::respond_early(ROUTE.route_key, all.narrow(), event, handle).await
        }
    };
    ($key:literal => $function:literal, $clients:ident) => {
        ws_route!(@declare $key => $function, $clients);

        /// The Lambda binary's whole life.
        pub async fn main() -> Result<(), lambda_runtime::Error> {
            chathub_shared::ws::run::<chathub_shared::clients::$clients, _, _>(ROUTE.route_key, handle).await
        }

        /// One event, as the local gateway runs it.
        pub async fn dispatch(
            all: &chathub_shared::With<chathub_shared::clients::Local>,
            event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
        ) -> serde_json::Value {
            chathub_shared::ws::respond(ROUTE.route_key, all.narrow(), event, handle).await
        }
    };
    (@declare $key:literal => $function:literal, $clients:ident) => {
        ws_route!(@declare $key => $function, $clients, false);
    };
    (@declare $key:literal => $function:literal, $clients:ident, $early:literal) => {
        /// What `handle` is given: the store and the clients this route declared.
        pub type Context = chathub_shared::With<chathub_shared::clients::$clients>;

        pub const ROUTE: $crate::table::WsRoute = $crate::table::WsRoute {
            route_key: $key,
            function: $function,
            needs: Some(<chathub_shared::clients::$clients as chathub_shared::clients::Clients>::NEEDS),
            answers_early: $early,
        };
    };
}

/// A route's Lambda binary: `chathub_functions::lambda_main!(auth_login);` is the whole file. It
/// runs the `main` its module declared, which runs the handler the gateway and the tests run.
#[macro_export]
macro_rules! lambda_main {
    ($module:ident) => {
        #[tokio::main]
        async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            $crate::routes::$module::main().await
        }
    };
}

pub mod notify;
pub mod routes;
pub mod table;
