/* pop3_cmd_mail.c: being written */
