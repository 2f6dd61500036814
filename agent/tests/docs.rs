//! docs/agent-api.md and docs/agent-openapi.json describe the API the code serves.

use agent::ApiError;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../docs/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every error the agent can answer, one of each variant.
fn all_errors() -> Vec<ApiError> {
    vec![
        ApiError::BadHost,
        ApiError::ForeignUser,
        ApiError::OriginNotAllowed,
        ApiError::OriginRequired,
        ApiError::OriginDenied { retry_after: 1 },
        ApiError::CsrfRefused,
        ApiError::UnknownContainer,
        ApiError::UnknownCertificate,
        ApiError::ChooseCertificate,
        ApiError::NotForSigning,
        ApiError::NeedsUnlock,
        ApiError::WrongPassword { tries_left: None },
        ApiError::LockedOut { retry_after: 1 },
        ApiError::PinBlocked,
        ApiError::ContainerBusy,
        ApiError::TooManyRequests,
        ApiError::UnknownRequest,
        ApiError::RequestExpired,
        ApiError::RequestSuperseded,
        ApiError::ContentTooLarge { limit: 1 },
        ApiError::LoginStatementAsDocument,
        ApiError::BadRequest(String::new()),
        ApiError::KeyMismatch,
        ApiError::ContainerUnreadable(String::new()),
        ApiError::NoCertificate {
            looked_in: String::new(),
        },
        ApiError::SigningFailed(String::new()),
        ApiError::WindowClosed,
        ApiError::TokenUnavailable(String::new()),
    ]
}

#[test]
fn every_error_code_is_documented() {
    let md = read("agent-api.md");
    let spec: serde_json::Value = serde_json::from_str(&read("agent-openapi.json")).unwrap();
    let listed: Vec<&str> = spec["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let codes: Vec<&str> = all_errors().iter().map(ApiError::code).collect();
    // The list above must hold every variant: count the arms of `ApiError::code`.
    let source = read("../agent/src/error.rs");
    let body = &source[source.find("pub fn code(&self)").unwrap()..];
    let body = &body[..body.find("\n    }\n").unwrap()];
    assert_eq!(
        body.matches("=> \"").count(),
        codes.len(),
        "all_errors() misses a variant of ApiError"
    );
    for code in &codes {
        assert!(
            md.contains(&format!("`{code}`")),
            "agent-api.md does not document {code}"
        );
        assert!(
            listed.contains(code),
            "agent-openapi.json does not list {code}"
        );
    }
    assert_eq!(
        listed.len(),
        codes.len(),
        "the OpenAPI file lists codes the agent never answers"
    );
}

#[test]
fn every_route_is_documented() {
    let md = read("agent-api.md");
    let spec: serde_json::Value = serde_json::from_str(&read("agent-openapi.json")).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let source =
        std::fs::read_to_string(format!("{}/src/server.rs", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // Every string literal in server.rs that is one of our paths is a route.
    let routes: Vec<&str> = source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|lit| lit.starts_with("/v1/") || lit.starts_with("/ui/"))
        .collect();
    assert!(routes.len() >= 9);
    for r in &routes {
        assert!(paths.contains_key(*r), "agent-openapi.json lacks {r}");
        assert!(md.contains(*r), "agent-api.md lacks {r}");
    }
    assert_eq!(
        paths.len(),
        routes.len(),
        "the OpenAPI file documents routes the agent does not serve"
    );
}
