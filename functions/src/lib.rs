//! Chathub's route handlers: one module per route under [`routes`], one thin binary per route
//! under `src/bin/`, and [`table`], the route list that the local gateway serves and that
//! template.yaml is tested against.

pub mod routes;
pub mod table;
