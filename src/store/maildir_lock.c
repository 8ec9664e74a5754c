/* maildir_lock.c: being written */
