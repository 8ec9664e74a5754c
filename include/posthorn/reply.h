/*
 * reply.h -- SMTP reply codes, with the names POE::Component::Server::SMTP
 * exports (prefixed PH_), and RFC 3463 enhanced status code helpers.
 */
#ifndef POSTHORN_REPLY_H
#define POSTHORN_REPLY_H

enum ph_smtp_code {
    PH_SMTP_SYSTEM_STATUS         = 211,
    PH_SMTP_SYTEM_STATUS          = 211, /* the seed's spelling, kept */
    PH_SMTP_SYSTEM_HELP           = 211, /* the seed's value; RFC 5321 help is 214 */
    PH_SMTP_HELP_MESSAGE          = 214,
    PH_SMTP_SERVICE_READY         = 220,
    PH_SMTP_QUIT                  = 221,
    PH_SMTP_OK                    = 250,
    PH_SMTP_WILL_FORWARD          = 251,
    PH_SMTP_CANNOT_VRFY_USER      = 252,
    PH_SMTP_START_MAIL_INPUT      = 354,
    PH_SMTP_NOT_AVAILABLE         = 421,
    PH_SMTP_SERVICE_UNAVAILABLE   = 450,
    PH_SMTP_LOCAL_ERROR           = 451,
    PH_SMTP_NO_STORAGE            = 452,
    PH_SMTP_SYNTAX_ERROR          = 500,
    PH_SMTP_ARG_SYNTAX_ERROR      = 501,
    PH_SMTP_NOT_IMPLEMENTED       = 502,
    PH_SMTP_BAD_SEQUENCE          = 503,
    PH_SMTP_ARG_NOT_IMPLEMENTED   = 504,
    PH_SMTP_UNAVAILABLE           = 550,
    PH_SMTP_USER_NOT_LOCAL        = 551,
    PH_SMTP_QUOTA_LIMIT           = 552,
    PH_SMTP_MAILBOX_ERROR         = 553,
    PH_SMTP_NO_SERVICE            = 554,
    PH_SMTP_TRANSACTION_FAILED    = 554,
    PH_SMTP_PARAM_NOT_RECOGNIZED  = 555, /* RFC 5321 4.2.2, not in the seed */
};

#endif
