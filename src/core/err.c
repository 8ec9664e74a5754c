/* err.c -- names for enum ph_err. */
#include "posthorn/posthorn.h"

const char *
ph_strerror(int err)
{
    switch (err) {
    case PH_EOK:     return "success";
    case PH_ENOMEM:  return "out of memory";
    case PH_EINVAL:  return "invalid argument";
    case PH_ELIMIT:  return "limit exceeded";
    case PH_EIO:     return "I/O error";
    case PH_ESTATE:  return "not allowed in this state";
    case PH_EADDR:   return "bad address";
    case PH_ECLOSED: return "session closed";
    default:         return "unknown error";
    }
}
