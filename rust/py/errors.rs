//! The one mapping from the core's `Error` to Python exceptions.
use crate::error::Error;
use crate::lex::Lang;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::collections::HashMap;

create_exception!(
    codemill,
    CodemillError,
    PyValueError,
    "Base class of codemill's errors."
);
create_exception!(
    codemill,
    TokenizerFileError,
    CodemillError,
    "A tokenizer file is corrupt, of another format or of an unsupported version."
);

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Format(_) => TokenizerFileError::new_err(err.to_string()),
            _ => CodemillError::new_err(err.to_string()),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CodemillError", py.get_type::<CodemillError>())?;
    m.add("TokenizerFileError", py.get_type::<TokenizerFileError>())?;
    Ok(())
}

/// A language name (or None) to the scanner's language.
pub fn lang_arg(language: Option<&str>) -> PyResult<Lang> {
    Ok(match language {
        None => Lang::Generic,
        Some(name) => Lang::from_name(name)?,
    })
}

/// One language per text (None: generic), or None for all generic. Each distinct name is
/// looked up once.
pub fn text_langs(n: usize, languages: Option<Vec<Option<String>>>) -> PyResult<Vec<Lang>> {
    let Some(list) = languages else {
        return Ok(vec![Lang::Generic; n]);
    };
    if list.len() != n {
        return Err(Error::Argument(format!(
            "languages has {} entries for {n} texts",
            list.len()
        ))
        .into());
    }
    let mut cache: HashMap<Option<String>, Lang> = HashMap::new();
    list.into_iter()
        .map(|name| {
            if let Some(&l) = cache.get(&name) {
                return Ok(l);
            }
            let l = lang_arg(name.as_deref())?;
            cache.insert(name, l);
            Ok(l)
        })
        .collect()
}
