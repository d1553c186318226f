"""French (fr-FR) texts of `auditpol`, for simulator/tools_auditpol.py.

Subcategory and category names: a real `auditpol.exe /list /subcategory:* /v /r` of a French Windows,
kept in Croko-fr/Evtx2Sigma `EvtxFilter.ps1` ("List Generated with : `auditpol.exe /list /SubCategory:* /v
/r` and columns renamed"; SOURCES.md "auditpol fr"), typographic apostrophes as there. That list predates
{0CCE924B} ("Access Rights", build 20348 on): its French name is UNVERIFIED.

Inclusion settings: "Succès", "Échec", "Succès et échec" are mondoohq/mql PR #8286's French texts
(gpo-backup-format.md §A1); "Aucun audit" only appears, ASCII-folded, in a PowerShell test fixture of a
French backup file: UNVERIFIED. Headers, option words, messages, the `/backup` row order (the English
one is used) and the plain `/get` layout are UNVERIFIED (no French capture found).
"""

from __future__ import annotations

CATEGORIES = {
    "system": "Système",
    "logon": "Ouverture/Fermeture de session",
    "object": "Accès aux objets",
    "privilege": "Utilisation de privilège",
    "tracking": "Suivi détaillé",
    "policy": "Changement de stratégie",
    "account": "Gestion des comptes",
    "ds": "Accès DS",
    "logon_acct": "Connexion de compte",
}

# By GUID prefix (0CCE....).
NAMES = {
    "9210": "Modification de l’état de la sécurité",
    "9211": "Extension système de sécurité",
    "9212": "Intégrité du système",
    "9213": "Pilote IPSEC",
    "9214": "Autres événements système",
    "9215": "Ouvrir la session",
    "9216": "Fermer la session",
    "9217": "Verrouillage du compte",
    "9218": "Mode principal IPsec",
    "9219": "Mode rapide IPsec",
    "921A": "Mode étendu IPsec",
    "921B": "Ouverture de session spéciale",
    "921C": "Autres événements d’ouverture/fermeture de session",
    "9243": "Serveur NPS",
    "9247": "Revendications utilisateur/de périphérique",
    "9249": "Appartenance à un groupe",
    "924B": "Droits d’accès",  # UNVERIFIED (not in the capture)
    "921D": "Système de fichiers",
    "921E": "Registre",
    "921F": "Objet de noyau",
    "9220": "SAM",
    "9221": "Services de certification",
    "9222": "Généré par application",
    "9223": "Manipulation de handle",
    "9224": "Partage de fichiers",
    "9225": "Rejet de paquet par la plateforme de filtrage",
    "9226": "Connexion de la plateforme de filtrage",
    "9227": "Autres événements d’accès à l’objet",
    "9244": "Partage de fichiers détaillé",
    "9245": "Stockage amovible",
    "9246": "Stratégie centralisée intermédiaire",
    "9228": "Utilisation de privilèges sensibles",
    "9229": "Utilisation de privilèges non sensibles",
    "922A": "Autres événements d’utilisation de privilèges",
    "922B": "Création du processus",
    "922C": "Fin du processus",
    "922D": "Activité DPAPI",
    "922E": "Événements RPC",
    "9248": "Événements Plug-and-Play",
    "924A": "Événements de jeton ajustés à droite",
    "922F": "Modification de la stratégie d’audit",
    "9230": "Modification de la stratégie d’authentification",
    "9231": "Modification de la stratégie d’autorisation",
    "9232": "Modification de la stratégie de niveau règle MPSSVC",
    "9233": "Modification de la stratégie de plateforme de filtrage",
    "9234": "Autres événements de modification de stratégie",
    "9235": "Gestion des comptes d’utilisateur",
    "9236": "Gestion des comptes d’ordinateur",
    "9237": "Gestion des groupes de sécurité",
    "9238": "Gestion des groupes de distribution",
    "9239": "Gestion des groupes d’applications",
    "923A": "Autres événements de gestion des comptes",
    "923B": "Accès au service d’annuaire",
    "923C": "Modification du service d’annuaire",
    "923D": "Réplication du service d’annuaire",
    "923E": "Réplication du service d’annuaire détaillé",
    "923F": "Validation des informations d’identification",
    "9240": "Opérations de ticket du service Kerberos",
    "9241": "Autres événements d’ouverture de session",
    "9242": "Service d’authentification Kerberos",
}

SETTING_NONE = "Aucun audit"  # UNVERIFIED (see the module docstring)
SETTING_SUCCESS = "Succès"
SETTING_FAILURE = "Échec"
SETTING_BOTH = "Succès et échec"

# UNVERIFIED, all of them.
HEADER_R = (
    "Nom de l’ordinateur,Cible de la stratégie,Sous-catégorie,GUID de la sous-catégorie,"
    "Paramètre d’inclusion,Paramètre d’exclusion"
)
HEADER_BACKUP = HEADER_R + ",Valeur du paramètre"
OPTION_DISABLED = "Désactivé"
OPTION_ENABLED = "Activé"
TITLE = "Stratégie d’audit système"
COLUMN_LEFT = "Catégorie/Sous-catégorie"
COLUMN_RIGHT = "Paramètre"
SUCCESS = "La commande s’est correctement exécutée."
ERROR_PREFIX = "Erreur 0x{code:08x} :\r\n{msg}\r\n"
MSG_PARAM = "Paramètre incorrect."
MSG_PRIVILEGE = "Le client ne dispose pas d’un privilège nécessaire."
MSG_FILE_EXISTS = "Le fichier existe."
