//! A byte limit from Python (`max_bytes`): any positive int; one past `u64::MAX` means no limit,
//! as it would, rather than an OverflowError that names no argument.
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;

#[derive(Clone, Copy)]
pub struct ByteLimit(pub u64);

impl<'a, 'py> FromPyObject<'a, 'py> for ByteLimit {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<u64>() {
            Ok(n) => Ok(ByteLimit(n)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) && obj.gt(0)? => {
                Ok(ByteLimit(u64::MAX))
            }
            Err(e) => Err(e),
        }
    }
}
