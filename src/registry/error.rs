//! Registry errors and their Confluent Schema Registry error codes.
//!
//! Each variant maps to the `error_code` that Confluent clients branch on; the
//! HTTP status is the code's first three digits. Messages follow Confluent's
//! wording where clients or users match on it.

/// A registry operation that failed; returned by the model and the REST API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(u32),
    #[error("Schema {0} not found")]
    SchemaIdNotFound(u32),
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error(
        "Subject '{0}' Version {1} was soft deleted. Set permanent=true to delete permanently"
    )]
    VersionSoftDeleted(String, u32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, u32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectLevelNotConfigured(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    #[error(
        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", \
         details: [{}]",
        messages.join(", ")
    )]
    Incompatible {
        subject: String,
        messages: Vec<String>,
    },
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between \
         [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    #[error(
        "Invalid compatibility level '{0}'. Valid values are NONE, BACKWARD, \
         BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL and FULL_TRANSITIVE"
    )]
    InvalidCompatibilityLevel(String),
    #[error("Invalid mode '{0}'. Valid values are READWRITE, READONLY and IMPORT")]
    InvalidMode(String),
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("One or more references exist to the schema {{subject={subject}, version={version}}}")]
    ReferenceExists { subject: String, version: u32 },
    #[error("{0}")]
    IdDoesNotMatch(String),
    #[error("The specified subject '{0}' is not a valid subject name")]
    InvalidSubject(String),
    #[error("Schema is too large: {size_bytes} bytes, the maximum is {size_bytes_max} bytes")]
    SchemaTooLarge {
        size_bytes: usize,
        size_bytes_max: usize,
    },
    /// A well-formed request body whose content is not acceptable.
    #[error("{0}")]
    InvalidRequest(String),
    /// A request body that is not valid JSON.
    #[error("Invalid JSON in request body: {0}")]
    MalformedJson(String),
    #[error("HTTP 404 Not Found")]
    RouteNotFound,
    #[error("Failed to store the registry change: {0}")]
    Store(String),
}

impl RegistryError {
    /// Returns Confluent's `error_code` for this error.
    pub fn error_code(&self) -> u32 {
        match self {
            Self::SubjectNotFound(_) => 40401,
            Self::VersionNotFound(_) => 40402,
            Self::SchemaIdNotFound(_) | Self::SchemaNotFound => 40403,
            Self::SubjectSoftDeleted(_) => 40404,
            Self::SubjectNotSoftDeleted(_) => 40405,
            Self::VersionSoftDeleted(..) => 40406,
            Self::VersionNotSoftDeleted(..) => 40407,
            Self::SubjectLevelNotConfigured(_) => 40408,
            Self::SubjectModeNotConfigured(_) => 40409,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema(_) => 42201,
            Self::InvalidVersion(_) => 42202,
            Self::InvalidCompatibilityLevel(_) => 42203,
            Self::InvalidMode(_) => 42204,
            Self::OperationNotPermitted(_) => 42205,
            Self::ReferenceExists { .. } => 42206,
            Self::IdDoesNotMatch(_) => 42207,
            Self::InvalidSubject(_) => 42208,
            Self::SchemaTooLarge { .. } => 42209,
            Self::InvalidRequest(_) => 422,
            Self::MalformedJson(_) => 400,
            Self::RouteNotFound => 404,
            Self::Store(_) => 50001,
        }
    }

    /// Returns the HTTP status: the first three digits of the error code.
    pub fn http_status(&self) -> u16 {
        let mut code = self.error_code();
        while code >= 1000 {
            code /= 10;
        }
        code as u16
    }
}
