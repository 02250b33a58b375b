"""The dashboard's two languages: English (the templates' own text) and Brazilian Portuguese.

A template writes ``{{ _("Stations") }}``; the Portuguese text is looked up here, and a string
not listed stays in English (so a missing entry shows, never breaks a page).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LANGUAGES", "translator"]

LANGUAGES = {"en": "English", "pt-BR": "Português (Brasil)"}

_PT = {
    "Overview": "Visão geral",
    "Stations": "Estações",
    "Station": "Estação",
    "Transactions": "Transações",
    "Transaction": "Transação",
    "Firmware": "Firmware",
    "Certificates": "Certificados",
    "Sign in": "Entrar",
    "Sign out": "Sair",
    "API token": "Token da API",
    "Sign in with an API token.": "Entre com um token da API.",
    "The token is exchanged for a session; it is not stored in the browser.": (
        "O token é trocado por uma sessão; ele não fica guardado no navegador."
    ),
    "Unknown, expired or revoked token.": "Token desconhecido, expirado ou revogado.",
    "Online": "Conectadas",
    "Offline": "Desconectadas",
    "Faulted": "Com falha",
    "Active transactions": "Transações ativas",
    "Energy delivered today": "Energia entregue hoje",
    "Active V2G sessions": "Sessões V2G ativas",
    "Discharge power now": "Potência de descarga agora",
    "Grid price now": "Preço da rede agora",
    "Next 24 hours": "Próximas 24 horas",
    "Peak (ponta)": "Ponta",
    "Off-peak": "Fora de ponta",
    "Intermediate": "Intermediário",
    "Recent security events": "Eventos de segurança recentes",
    "None.": "Nenhum.",
    "Not available.": "Indisponível.",
    "simulated": "simulado",
    "Status": "Situação",
    "Model": "Modelo",
    "Vendor": "Fabricante",
    "Node": "Nó",
    "Last seen": "Visto por último",
    "Connectors": "Conectores",
    "Filter": "Filtrar",
    "any": "qualquer",
    "Station id starts with": "Id da estação começa com",
    "Previous": "Anterior",
    "Next": "Próxima",
    "of": "de",
    "No stations match.": "Nenhuma estação corresponde.",
    "Live state": "Estado ao vivo",
    "Not connected.": "Não conectada.",
    "Connected since": "Conectada desde",
    "Commands": "Comandos",
    "Command": "Comando",
    "Answer": "Resposta",
    "Requested by": "Pedido por",
    "Recent messages": "Mensagens recentes",
    "Direction": "Direção",
    "Message": "Mensagem",
    "Time": "Hora",
    "Send": "Enviar",
    "Reset": "Reiniciar",
    "Remote start": "Início remoto",
    "Remote stop": "Parada remota",
    "Unlock connector": "Destravar conector",
    "Trigger message": "Solicitar mensagem",
    "Change availability": "Alterar disponibilidade",
    "The station answered": "A estação respondeu",
    "The command failed": "O comando falhou",
    "Started": "Início",
    "Ended": "Fim",
    "Active": "Ativa",
    "State": "Estado",
    "Power": "Potência",
    "Energy": "Energia",
    "State of charge": "Estado de carga",
    "Meter values": "Medições",
    "Events": "Eventos",
    "Sessions": "Sessões",
    "Active sessions": "Sessões ativas",
    "Past sessions": "Sessões anteriores",
    "Start a discharge": "Iniciar uma descarga",
    "Stop": "Parar",
    "Setpoint": "Potência comandada",
    "Exported": "Exportada",
    "End reason": "Motivo do fim",
    "Jobs": "Tarefas",
    "Phase": "Fase",
    "Location": "Local",
    "Expires": "Expira",
    "Expired": "Expirado",
    "Expires soon": "Expira em breve",
    "Kind": "Tipo",
    "Subject": "Titular",
    "live": "ao vivo",
    "reconnecting": "reconectando",
    "Language": "Idioma",
    "Signed in as": "Conectado como",
    "Forbidden": "Proibido",
    "Not found": "Não encontrado",
    "The session's CSRF token is missing or wrong: reload the page.": (
        "O token CSRF da sessão está ausente ou errado: recarregue a página."
    ),
    "This needs the operator role.": "Isto exige o papel de operador.",
    "All": "Todas",
    "Older": "Mais antigas",
    "times in": "horários em",
    "updated every 15 s": "atualizada a cada 15 s",
    "EVSE": "EVSE",
    "Connector": "Conector",
    "Type": "Tipo",
    "Requested message": "Mensagem solicitada",
    "Operational status": "Situação operacional",
    "Id token": "Id token",
    "Minimum SoC": "SoC mínimo",
    "Duration": "Duração",
    "Skip to content": "Ir para o conteúdo",
}


def translator(language: str) -> Callable[[str], str]:
    if language == "pt-BR":
        return lambda text: _PT.get(text, text)
    return lambda text: text
